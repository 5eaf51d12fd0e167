import Foundation

/// File names that came from outside (a document's `filename` from a customer), made
/// safe to create in a folder of wabox's choosing.
///
/// - Important: A sender's name is never a path. The result has no `/` or `\`, is never
///   `.`, `..` or hidden, has no control characters, bidi overrides or reserved Windows
///   characters, and fits in 255 bytes; anything left empty becomes `fallback`. Join it to
///   a directory yourself and open it with `O_EXCL` (or pick another name) so that an
///   existing file is never overwritten.
public enum SafeFileName {
    /// Bytes of a name most file systems accept.
    public static let maximumBytes = 255

    public static func make(from name: String?, fallback: String = "attachment") -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in (name ?? "").unicodeScalars {
            scalars.append(replacement(for: scalar))
        }
        var text = String(scalars)
        // Collapse the runs of "_" that replacements leave, and trim what hides or
        // confuses a name: leading dots and spaces, trailing dots and spaces.
        while text.contains("__") { text = text.replacingOccurrences(of: "__", with: "_") }
        while let first = text.unicodeScalars.first, first == "." || first == " " || first == "_" { text.unicodeScalars.removeFirst() }
        while let last = text.unicodeScalars.last, last == "." || last == " " || last == "_" { text.unicodeScalars.removeLast() }
        if text.isEmpty || isReservedOnWindows(text) {
            text = fallback + (text.isEmpty ? "" : "_" + text)
        }
        return fitted(text)
    }

    private static func replacement(for scalar: Unicode.Scalar) -> Unicode.Scalar {
        let value = scalar.value
        switch value {
        case 0x00..<0x20, 0x7f...0x9f: return "_"  // C0, DEL, C1 controls
        case 0x202a...0x202e, 0x2066...0x2069, 0x200e, 0x200f, 0x061c: return "_"  // bidi controls and marks
        case 0x2028, 0x2029, 0xfeff, 0xfffe, 0xffff: return "_"
        default: break
        }
        switch scalar {
        case "/", "\\", ":", "*", "?", "\"", "<", ">", "|": return "_"
        default: return scalar
        }
    }

    /// `CON`, `NUL`, `COM1`… are devices on Windows whatever their extension.
    private static func isReservedOnWindows(_ name: String) -> Bool {
        let stem = name.split(separator: ".", maxSplits: 1).first.map { $0.uppercased() } ?? ""
        if ["CON", "PRN", "AUX", "NUL"].contains(stem) { return true }
        if stem.count == 4, stem.hasPrefix("COM") || stem.hasPrefix("LPT"), let digit = stem.last, digit.isNumber { return true }
        return false
    }

    /// Cuts the name to `maximumBytes` of UTF-8 on a character boundary, keeping a short
    /// extension.
    private static func fitted(_ name: String) -> String {
        guard name.utf8.count > maximumBytes else { return name }
        var stem = Substring(name)
        var suffix = ""
        if let dot = name.lastIndex(of: "."), name.distance(from: dot, to: name.endIndex) <= 16 {
            stem = name[..<dot]
            suffix = String(name[dot...])
        }
        var out = ""
        for character in stem {
            if out.utf8.count + character.utf8.count + suffix.utf8.count > maximumBytes { break }
            out.append(character)
        }
        return out + suffix
    }
}
