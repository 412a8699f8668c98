"""The bidder's signing agent (``tenderhall bid agent``): a small HTTP server on 127.0.0.1 that signs
for an allow-listed platform page with a key from a PKCS#12 file or a PKCS#11 token (UKey), after
the person at its terminal confirms each signature. Protocol: docs/signing-agent.md."""
