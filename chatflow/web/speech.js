// Text to speech and speech to text, when the app enables them: "Read aloud" plays an
// answer from `POST /api/text-to-audio`; the microphone button records a message with
// MediaRecorder and puts what `POST /api/audio-to-text` heard into the composer.

import { $ } from "./dom.js";

export function createSpeech({ session, onError, onText, announce }) {
  let playing = null; // {audio, button, url}
  let recorder = null;

  function stopPlaying() {
    if (!playing) return;
    playing.audio.pause();
    URL.revokeObjectURL(playing.url);
    playing.button.setAttribute("aria-pressed", "false");
    playing = null;
  }

  async function toggle(turn, button) {
    const again = playing?.button === button;
    stopPlaying();
    if (again) return;
    try {
      const response = await session.api.request("/text-to-audio", {
        method: "POST",
        json: { message_id: turn.messageId },
        stream: true,
      });
      const url = URL.createObjectURL(await response.blob());
      const audio = new Audio(url);
      playing = { audio, button, url };
      button.setAttribute("aria-pressed", "true");
      audio.addEventListener("ended", stopPlaying);
      announce("Reading the answer aloud");
      await audio.play();
    } catch (error) {
      stopPlaying();
      onError(error);
    }
  }

  async function transcribe(blob) {
    const form = new FormData();
    form.append("file", new File([blob], "speech.wav", { type: "audio/wav" }));
    try {
      const result = await session.api.request("/audio-to-text", { method: "POST", form });
      if (result.text) onText(result.text);
      else announce("No speech was heard");
    } catch (error) {
      onError(error);
    }
  }

  const mic = $("mic");
  function setRecording(on) {
    mic.setAttribute("aria-pressed", String(on));
    mic.setAttribute("aria-label", on ? "Stop dictating" : "Dictate a message");
    announce(on ? "Recording" : "");
  }

  // Recorded as PCM and sent as WAV: the server's speech backend decodes WAV, MP3, FLAC
  // and OGG, while the browser's MediaRecorder makes only WebM.
  mic.addEventListener("click", async () => {
    if (recorder) {
      const done = recorder;
      recorder = null;
      setRecording(false);
      transcribe(await done.stop());
      return;
    }
    try {
      recorder = await startRecording();
      setRecording(true);
    } catch (error) {
      recorder = null;
      onError(new Error(`The microphone is not available: ${error.message}`));
    }
  });

  return { toggle, stop: stopPlaying };
}

async function startRecording() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const processor = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  processor.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
  source.connect(processor);
  processor.connect(context.destination);
  return {
    async stop() {
      processor.disconnect();
      source.disconnect();
      for (const track of stream.getTracks()) track.stop();
      const rate = context.sampleRate;
      await context.close();
      return wav(chunks, rate);
    },
  };
}

/** Mono 16-bit PCM WAV from Float32 sample chunks. */
function wav(chunks, rate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + length * 2));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, length * 2, true);
  let at = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      const clipped = Math.max(-1, Math.min(1, sample));
      view.setInt16(at, clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff, true);
      at += 2;
    }
  }
  return new Blob([view], { type: "audio/wav" });
}
