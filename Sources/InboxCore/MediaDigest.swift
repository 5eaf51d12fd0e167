import Crypto
import Foundation

/// The SHA-256 check of downloaded media: webhooks give the digest in base64, the media
/// metadata may give it in hex; both are compared as the bytes they stand for.
public enum MediaDigest {
    /// The lowercase hex SHA-256 of `bytes`: the name a file is kept under.
    public static func hex<Bytes: DataProtocol>(of bytes: Bytes) -> String {
        Hex.encode(Array(SHA256.hash(data: bytes)))
    }

    /// The 32 bytes a digest stands for, written in hex (64 characters) or base64; nil
    /// when it is neither.
    public static func decode(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.utf8.count == 64, let bytes = Hex.decode(Array(trimmed.utf8)) { return bytes }
        if let data = Data(base64Encoded: trimmed), data.count == 32 { return Array(data) }
        return nil
    }

    /// Whether `bytes` hash to the digest written in `expected`; false when `expected` is
    /// not a SHA-256 digest at all.
    public static func matches<Bytes: DataProtocol>(_ bytes: Bytes, expected: String) -> Bool {
        guard let wanted = decode(expected) else { return false }
        return Array(SHA256.hash(data: bytes)) == wanted
    }
}
