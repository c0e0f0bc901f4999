// A raw client for tests: writes bytes to a live isolate socket and collects whole frames back.
import net from "node:net";

/** Sends `bytes` and resolves with `count` whole frames (split by their segment tables). */
export function exchangeFrames(path: string, bytes: Buffer, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let pending = Buffer.alloc(0);
    const frames: Buffer[] = [];
    const timer = setTimeout(() => (socket.destroy(), reject(new Error("no reply"))), 5000);
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32LE(4) * 8) {
        const size = 8 + pending.readUInt32LE(4) * 8;
        frames.push(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
      if (frames.length >= count) {
        clearTimeout(timer);
        socket.end();
        resolve(frames);
      }
    });
    socket.write(bytes);
  });
}
