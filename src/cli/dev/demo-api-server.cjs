// The demo API behind the validator in `keywarden dev` and the e2e suite: it echoes the identity headers
// the validator set (never the JWT itself). Plain CommonJS with no dependencies, so the same file runs
// on the host (process mode) and from a ConfigMap in a pod of the bare Node image (node mode, e2e).
const port = Number(process.env.PORT || 3000);
require('node:http')
  .createServer((req, res) => {
    const identity = Object.fromEntries(
      Object.entries(req.headers).filter(([h]) => h.startsWith('x-keywarden-') && h !== 'x-keywarden-jwt'),
    );
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ upstream: 'demo-api', method: req.method, path: req.url, identity }));
  })
  .listen(port, '127.0.0.1');
