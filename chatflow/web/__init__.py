"""The built-in chat web page, shipped as package data and served at `/` by
`chatflow.api.routes.web`: `index.html`, `style.css` and the ES modules it loads
(`app.js` and the modules it imports). No build step, no third-party code, no network
beyond this server's own Service API."""
