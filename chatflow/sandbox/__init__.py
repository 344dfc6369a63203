"""The code sandbox: user code runs out of the server's process, confined and limited.

`SandboxExecutor` (in `executor.py`) is the engine's `CodeExecutor`. Everything else in
this package runs inside the sandbox process and uses the standard library only.
"""

from chatflow.sandbox.executor import SandboxError, SandboxExecutor, SandboxInfo

__all__ = ["SandboxError", "SandboxExecutor", "SandboxInfo"]
