/// Text as a terminal shows it: sanitised against hostile input and measured in cells.
///
/// - Important: Every string that came from outside (names, texts, captions, file names,
///   error messages) goes through `TerminalText.sanitize` before it reaches the screen.
///   Storage keeps the original.
public enum TerminalText {
    // MARK: - Sanitising

    /// Replaces what could drive the terminal or reorder the screen with visible
    /// placeholders: C0 controls become their Control Pictures (ESC shows as `␛`), DEL `␡`,
    /// C1 controls and bidi overrides, embeddings and isolates `�`. Newlines and tabs become
    /// spaces; split text into lines before sanitising to keep them.
    public static func sanitize(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsReplacement) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append(contentsOf: replacement(for: scalar))
        }
        return String(out)
    }

    /// `sanitize` line by line: newlines are kept (a `\r\n` becomes one), everything else
    /// that could drive the terminal is replaced. For multi-line messages printed by the
    /// command-line tools (errors from the Cloud API, answers from a listener).
    public static func sanitizeKeepingLines(_ text: String) -> String {
        // "\r\n" is one Character in Swift: split on both.
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { sanitize(String($0)) }
            .joined(separator: "\n")
    }

    private static func needsReplacement(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7f...0x9f).contains(value) || isBidiControl(value)
    }

    private static func replacement(for scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        let value = scalar.value
        switch value {
        case 0x09, 0x0a, 0x0d: return [" "]
        case 0x00..<0x20: return [Unicode.Scalar(0x2400 + value)!]
        case 0x7f: return ["\u{2421}"]
        case 0x80...0x9f: return ["\u{FFFD}"]
        default: return isBidiControl(value) ? ["\u{FFFD}"] : [scalar]
        }
    }

    /// Bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069). Plain marks
    /// (LRM, RLM, ALM) only nudge neutral characters and are left alone.
    private static func isBidiControl(_ value: UInt32) -> Bool {
        (0x202a...0x202e).contains(value) || (0x2066...0x2069).contains(value)
    }

    // MARK: - Widths

    /// Cells a grapheme cluster takes: 2 for wide (CJK, fullwidth, emoji, flags, ZWJ
    /// sequences, which tmux draws as one glyph), 0 for a lone combining mark or format
    /// character, else 1.
    public static func width(of character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if scalars.count > 1 {
            // Emoji presentation selector, ZWJ sequences, flags, keycaps, skin tones.
            if scalars.contains(where: { $0.value == 0xfe0f || $0.value == 0x200d })
                || (isRegionalIndicator(first) && scalars.count == 2) {
                return 2
            }
        }
        return width(of: first)
    }

    /// Cells one scalar takes on its own.
    public static func width(of scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x7f { return value < 0x20 ? 0 : 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control:
            return 0
        default:
            break
        }
        if (0x1160...0x11ff).contains(value) { return 0 }  // Hangul medial vowels and final consonants
        if scalar.properties.isEmojiPresentation || isWide(value) || isRegionalIndicator(scalar) { return 2 }
        return 1
    }

    /// Cells a whole string takes.
    public static func width(of text: some StringProtocol) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    private static func isRegionalIndicator(_ scalar: Unicode.Scalar) -> Bool {
        (0x1f1e6...0x1f1ff).contains(scalar.value)
    }

    /// East Asian Wide and Fullwidth ranges.
    private static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115f, 0x231a...0x231b, 0x2329...0x232a, 0x2e80...0x303e, 0x3041...0x33ff,
             0x3400...0x4dbf, 0x4e00...0x9fff, 0xa000...0xa4cf, 0xa960...0xa97f, 0xac00...0xd7a3,
             0xf900...0xfaff, 0xfe10...0xfe19, 0xfe30...0xfe6f, 0xff00...0xff60, 0xffe0...0xffe6,
             0x16fe0...0x16fe4, 0x17000...0x18cff, 0x1b000...0x1b2ff, 0x1f200...0x1f2ff,
             0x20000...0x2fffd, 0x30000...0x3fffd:
            return true
        default:
            return false
        }
    }

    // MARK: - Fitting

    /// The longest prefix of `text` that fits in `cells`, with `…` at the end when cut.
    public static func truncate(_ text: String, to cells: Int) -> String {
        guard cells > 0 else { return "" }
        guard width(of: text) > cells else { return text }
        var out = ""
        var used = 0
        for character in text {
            let w = width(of: character)
            if used + w > cells - 1 { break }
            out.append(character)
            used += w
        }
        return out + "…"
    }

    /// Splits `text` into lines of at most `cells`, breaking at spaces where possible and
    /// inside long words otherwise. Existing newlines are kept as breaks.
    public static func wrap(_ text: String, to cells: Int) -> [String] {
        guard cells > 0 else { return [] }
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var lineWidth = 0
            var word = ""
            var wordWidth = 0
            func flushWord() {
                if lineWidth + wordWidth <= cells {
                    line += word
                    lineWidth += wordWidth
                } else {
                    if !line.isEmpty {
                        lines.append(line.trimmingTrailingSpaces())
                    }
                    line = ""
                    lineWidth = 0
                    // A word longer than a line is cut by cells.
                    for character in word {
                        let w = width(of: character)
                        if lineWidth + w > cells {
                            lines.append(line)
                            line = ""
                            lineWidth = 0
                        }
                        if line.isEmpty, character == " " { continue }
                        line.append(character)
                        lineWidth += w
                    }
                }
                word = ""
                wordWidth = 0
            }
            for character in paragraph {
                word.append(character)
                wordWidth += width(of: character)
                if character == " " { flushWord() }
            }
            flushWord()
            lines.append(line.trimmingTrailingSpaces())
        }
        return lines
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
