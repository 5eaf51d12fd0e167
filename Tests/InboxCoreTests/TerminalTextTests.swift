import InboxCore
import Testing

@Suite struct TerminalTextTests {
    @Test func escapeSequencesAndControlsBecomeVisible() {
        #expect(TerminalText.sanitize("a\u{1b}[2J\u{1b}]0;pwned\u{07}b") == "a␛[2J␛]0;pwned␇b")
        #expect(TerminalText.sanitize("tab\there\nline") == "tab here line")
        #expect(TerminalText.sanitize("c1:\u{9b}31m del:\u{7f} nul:\u{0}") == "c1:\u{FFFD}31m del:␡ nul:␀")
        #expect(TerminalText.sanitize("bidi \u{202e}txet.exe\u{202c} \u{2066}iso\u{2069}") == "bidi \u{FFFD}txet.exe\u{FFFD} \u{FFFD}iso\u{FFFD}")
        #expect(TerminalText.sanitize("Amélie 李 😀 مرحبا") == "Amélie 李 😀 مرحبا")
    }

    @Test func widthsInCells() {
        #expect(TerminalText.width(of: "abc") == 3)
        #expect(TerminalText.width(of: "李小龙") == 6)
        #expect(TerminalText.width(of: "你好，") == 6)
        #expect(TerminalText.width(of: "😀") == 2)
        #expect(TerminalText.width(of: "👩‍💻") == 2)          // ZWJ sequence: one glyph
        #expect(TerminalText.width(of: "🇫🇷") == 2)          // flag
        #expect(TerminalText.width(of: "❤️") == 2)           // emoji presentation selector
        #expect(TerminalText.width(of: "e\u{301}") == 1)    // combining accent
        #expect(TerminalText.width(of: "مرحبا") == 5)
        #expect(TerminalText.width(of: "한국어") == 6)
        #expect(TerminalText.width(of: "│─✓") == 3)
    }

    @Test func wrapAndTruncateByCells() {
        #expect(TerminalText.wrap("the quick brown fox", to: 10) == ["the quick", "brown fox"])
        #expect(TerminalText.wrap("李小龙你好世界", to: 5) == ["李小", "龙你", "好世", "界"])
        #expect(TerminalText.wrap("line one\nline two", to: 20) == ["line one", "line two"])
        #expect(TerminalText.wrap(String(repeating: "x", count: 25), to: 10) == ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"])
        #expect(TerminalText.truncate("Amélie Laurent", to: 8) == "Amélie …")
        #expect(TerminalText.truncate("李小龙你好", to: 6) == "李小…")
        #expect(TerminalText.truncate("short", to: 10) == "short")
        let long = String(repeating: "word ", count: 900)
        #expect(TerminalText.wrap(long, to: 40).allSatisfy { TerminalText.width(of: $0) <= 40 })
    }
}
