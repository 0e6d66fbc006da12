// Test preload (node --import): writes "probe: listening for SIGTERM" to stderr the moment the app
// adds its first SIGTERM listener, so a test can send a signal right then (the first second of a run).
const on = process.on;
let told = false;
process.on = process.addListener = function (event, listener) {
  const result = on.call(this, event, listener);
  if (event === 'SIGTERM' && !told) {
    told = true;
    process.stderr.write('probe: listening for SIGTERM\n');
  }
  return result;
};
