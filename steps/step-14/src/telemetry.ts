// Telemetry set-up lives in this file. The start script preloads it (node --import) so that it
// runs before the app is imported. It is empty: this app's own code sets up no telemetry.
export {};
