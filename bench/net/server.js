// A plain Node.js broadcast server on the `ws` package: the yardstick of the
// fan-out benchmark (scripts/bench-net.sh). It speaks just enough of the
// vortex wire protocol (docs/PROTOCOL.md §2, §3, §10) to serve the same load
// generator as vortexd: a hello on connect, and on a
// {"key": "vortexd.stream", "n", "every", "interval", "size"} request it
// broadcasts n items {"key": "vortexd.stream.item", "seq", "t"} (t = send
// time, seconds) to every client, `every` per turn, turns `interval` ms apart,
// each encoded once and sent with the idiomatic `for (c of wss.clients)
// c.send(msg)`, then vortexd.stream.done to the requester.
// Prints vortexd's start-up line; runs until killed.
'use strict';
const zlib = require('zlib');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

function pad2(n, w = 2) {
    return String(n).padStart(w, '0');
}

// §4.4: "YYYY-MM-DD HH:MM:SS.ffffff", UTC.
function vxDate(ms) {
    const d = new Date(ms);
    return {
        _ft: 'datetime',
        _fd: `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
            `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.` +
            `${pad2(d.getUTCMilliseconds(), 3)}000`,
    };
}

const vxInt = (n) => ({ _ft: 'int', _fd: n });

// §2.1: JSON (ASCII here), zlib, base64.
function encode(filt, tuples) {
    const json = JSON.stringify({
        _ct: 'rp', _c: 'vortex.Payload.Payload', filt, replyFilt: {}, tuples,
        result: null, date: vxDate(Date.now()),
    });
    return zlib.deflateSync(Buffer.from(json), { level: 9 }).toString('base64');
}

function decode(data) {
    let s = data.toString();
    if (s.endsWith('.')) s = s.slice(0, -1);
    if (!s) return null;
    try {
        return JSON.parse(zlib.inflateSync(Buffer.from(s, 'base64')).toString());
    } catch (e) {
        return null;
    }
}

const intOf = (v, dflt) => (v && typeof v === 'object' ? Number(v._fd) : v === undefined ? dflt : Number(v));

const uuid = crypto.randomUUID();
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });

function stream(requester, filt) {
    const n = intOf(filt.n, 0);
    const size = intOf(filt.size, 0);
    const interval = intOf(filt.interval, 1);
    let every = intOf(filt.every, 0);
    if (every < 1) every = n || 1;
    const padStr = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.repeat(Math.ceil(size / 26)).slice(0, size);
    let seq = 0;
    const turn = () => {
        for (let k = 0; k < every && seq < n; k++, seq++) {
            let t = Date.now() / 1000;
            if (Number.isInteger(t)) t += 1e-6; // keep it a float (§4.1)
            const msg = encode({ key: 'vortexd.stream.item', seq: vxInt(seq), t },
                size ? [padStr] : []);
            for (const c of wss.clients) c.send(msg);
        }
        if (seq < n) {
            setTimeout(turn, interval);
        } else {
            requester.send(encode({ key: 'vortexd.stream.done', sent: vxInt(n), failed: vxInt(0) }, []));
        }
    };
    turn();
}

wss.on('connection', (ws) => {
    ws.send(encode({ __vortexUuid__: uuid, __vortexName__: 'node-ws' }, []));
    ws.on('message', (data) => {
        const p = decode(data);
        if (p && p.filt && p.filt.key === 'vortexd.stream') stream(ws, p.filt);
    });
    ws.on('error', () => {});
});

wss.on('listening', () => {
    const port = wss.address().port;
    process.stdout.write(`vortexd listening on http://127.0.0.1:${port} uuid=${uuid} name=node-ws\n`);
});
