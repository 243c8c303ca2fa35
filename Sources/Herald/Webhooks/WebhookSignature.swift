import Crypto
import Foundation

/// `X-Herald-Signature: sha256=<hex>` over `<X-Herald-Timestamp>.<body>`, HMAC-SHA256 with the webhook secret
/// (docs/webhooks.md). The timestamp is in the signed bytes so a captured request cannot be replayed later with
/// a fresh one; receivers refuse old timestamps.
public enum WebhookSignature {
    public static func sign(body: some Sequence<UInt8>, timestamp: Int, secret: String) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + hex(code)
    }

    /// Lowercase hex, two digits a byte.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
    }
}
