import Crypto
import Foundation

/// The `X-Hub-Signature-256` check: HMAC-SHA256 of the raw request bytes, keyed with the
/// app secret.
///
/// - Important: Verify the bytes exactly as received. Meta escapes non-ASCII as `\uXXXX`
///   and may write `/` as `\/`; parsing and re-serialising the JSON gives other bytes.
// `SymmetricKey` is immutable once made but not marked Sendable by swift-crypto 3.
public struct WebhookSignature: @unchecked Sendable {
    private let key: SymmetricKey
    /// The secret being rotated out, still accepted until the operator removes it.
    private let previousKey: SymmetricKey?

    /// - Parameter previousAppSecret: during a rotation, the old secret: a body signed
    ///   with either secret is valid. `header(for:)` always signs with `appSecret`.
    public init(appSecret: String, previousAppSecret: String? = nil) {
        key = SymmetricKey(data: Array(appSecret.utf8))
        previousKey = previousAppSecret.flatMap { $0.isEmpty ? nil : SymmetricKey(data: Array($0.utf8)) }
    }

    /// The header value Meta would send for `body`: `sha256=` and lowercase hex.
    public func header<Bytes: DataProtocol>(for body: Bytes) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: key)
        return "sha256=" + Hex.encode(Array(code))
    }

    /// Whether `header` is a well-formed signature of `body` by the app secret (or the
    /// previous one), compared in constant time.
    ///
    /// - Important: With a previous secret both codes are always computed and compared, and
    ///   the results combined without a branch, so the answer's timing does not tell which
    ///   secret matched or where a forged code first differs.
    public func isValid<Bytes: DataProtocol>(header: String?, body: Bytes) -> Bool {
        guard let header, let digest = Self.digest(fromHeader: header) else { return false }
        let current = HMAC<SHA256>.isValidAuthenticationCode(digest, authenticating: body, using: key)
        guard let previousKey else { return current }
        let previous = HMAC<SHA256>.isValidAuthenticationCode(digest, authenticating: body, using: previousKey)
        return current || previous
    }

    /// The 32 bytes of a `sha256=<hex>` header, or nil when it is not one.
    static func digest(fromHeader header: String) -> [UInt8]? {
        let prefix = "sha256="
        let trimmed = header.trimmingASCIIWhitespace()
        guard trimmed.utf8.count == prefix.utf8.count + 64,
              trimmed.utf8.starts(with: prefix.utf8) else { return nil }
        return Hex.decode(trimmed.utf8.dropFirst(prefix.utf8.count))
    }
}

enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode<S: Collection<UInt8>>(_ text: S) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(text.count / 2)
        var high: UInt8?
        for char in text {
            guard let nibble = nibble(char) else { return nil }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return out
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    func trimmingASCIIWhitespace() -> Substring {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
