// Preloaded with `node --require` so that peers which listen on every
// interface (server-everything calls app.listen(PORT)) bind 127.0.0.1 only:
// the tests never open ports beyond loopback.
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if ((typeof args[0] === "number" || typeof args[0] === "string") && typeof args[1] !== "string") {
    args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
