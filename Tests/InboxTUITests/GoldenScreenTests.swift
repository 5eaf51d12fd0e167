import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// Compares a whole screen with its golden file in the test bundle (`Golden/NAME.txt`), as
/// ratatui's `Buffer::with_lines` tests do: the text of every cell, then the style of every
/// cell as a letter (a legend names each style by its theme element), so a tick in the
/// wrong colour or a selection on the wrong row fails as surely as a wrong word.
/// `WABOX_UPDATE_GOLDEN=1 swift test --filter GoldenScreenTests` rewrites the files in the
/// source tree instead; nothing else does.
func expectGolden(_ name: String, _ buffer: Buffer, theme: Theme = .builtIn,
                  sourceLocation: SourceLocation = #_sourceLocation) throws {
    let text = goldenText(buffer, theme: theme)
    if ProcessInfo.processInfo.environment["WABOX_UPDATE_GOLDEN"] == "1" {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        try text.write(to: folder.appendingPathComponent("\(name).txt"), atomically: true, encoding: .utf8)
        return
    }
    guard let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Golden") else {
        Issue.record("no golden file Golden/\(name).txt: write it with WABOX_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
        return
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    guard expected != text else { return }
    let wanted = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let got = text.split(separator: "\n", omittingEmptySubsequences: false)
    let differing = (0..<max(wanted.count, got.count)).filter { index in
        (index < wanted.count ? wanted[index] : nil) != (index < got.count ? got[index] : nil)
    }
    let report = differing.prefix(6).map { index in
        "line \(index + 1)\n  golden: \(index < wanted.count ? String(wanted[index]) : "(none)")\n  screen: \(index < got.count ? String(got[index]) : "(none)")"
    }.joined(separator: "\n")
    Issue.record("screen differs from Golden/\(name).txt in \(differing.count) lines:\n\(report)\nwhole screen:\n\(text)",
                 sourceLocation: sourceLocation)
}

/// The golden form of a buffer: its text lines (trailing blanks dropped), a rule, one letter
/// per cell for its style (`.` for the theme's base), and the legend of the letters.
func goldenText(_ buffer: Buffer, theme: Theme) -> String {
    let textLines = buffer.lines.map { $0.replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression) }
    let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    var letterOf: [Style: Character] = [theme[.base]: "."]
    var legend: [(Character, Style)] = [(".", theme[.base])]
    var styleLines: [String] = []
    for y in 0..<buffer.height {
        var line = ""
        for x in 0..<buffer.width {
            let style = buffer[x, y].style
            if letterOf[style] == nil {
                let letter = legend.count - 1 < letters.count ? letters[legend.count - 1] : "?"
                letterOf[style] = letter
                legend.append((letter, style))
            }
            line.append(letterOf[style]!)
        }
        styleLines.append(line)
    }
    let legendLines = legend.map { letter, style in "\(letter) \(describe(style, in: theme))" }
    return (textLines + ["--- styles"] + styleLines + ["--- legend"] + legendLines).joined(separator: "\n") + "\n"
}

/// A style as the theme element(s) it is, or as its colours and attributes.
private func describe(_ style: Style, in theme: Theme) -> String {
    let elements = Element.allCases.filter { theme[$0] == style }.map(\.rawValue)
    if !elements.isEmpty { return elements.joined(separator: " = ") }
    func color(_ color: ThemeColor) -> String {
        switch color {
        case .terminalDefault: "default"
        case .index(let index): "\(index)"
        case .rgb(let r, let g, let b): String(format: "#%02x%02x%02x", r, g, b)
        }
    }
    let names: [(TextAttributes, String)] = [(.bold, "bold"), (.dim, "dim"), (.italic, "italic"),
                                              (.reverse, "reverse"), (.underline, "underline")]
    let attributes = names.filter { style.attributes.contains($0.0) }.map(\.1)
    return "fg \(color(style.foreground)) bg \(color(style.background))"
        + (attributes.isEmpty ? "" : " " + attributes.joined(separator: ","))
}

/// Whole screens at 80×24 and 40×12: the list, a thread with every tick state, the compose
/// line, the template picker and the help.
@Suite struct GoldenScreenTests {
    static let sizes = [(80, 24), (40, 12)]

    @Test(arguments: sizes) func list(width: Int, height: Int) async throws {
        let h = try await ScreenHarness(width: width, height: height, fixtures: ["text", "multi_entry", "interactive"])
        try expectGolden("list-\(width)x\(height)", h.buffer)
    }

    /// Amélie's thread with every message kind and a reply in every state.
    private func thread(width: Int, height: Int) async throws -> ScreenHarness {
        let h = try await ScreenHarness(width: width, height: height)
        _ = try await h.database.ingest(everyKindWebhooks())
        try await addReplies(h.database)
        try await h.settle { h.screen.contains("Amélie Laurent") }
        h.press(.enter)
        // Opening marks the conversation read: wait for that write to show, so that the
        // screen compared is the one that stays.
        try await h.settle { h.screen.contains("failed reply") && !h.lines[0].contains("unread") }
        return h
    }

    @Test(arguments: sizes) func threadWithEveryTickState(width: Int, height: Int) async throws {
        let h = try await thread(width: width, height: height)
        try expectGolden("thread-\(width)x\(height)", h.buffer)
    }

    @Test(arguments: sizes) func composeLine(width: Int, height: Int) async throws {
        let h = try await thread(width: width, height: height)
        h.type("Nous regardons 🔍 tout de suite, un instant")
        try await h.settle { h.screen.contains("un instant") }
        try expectGolden("compose-\(width)x\(height)", h.buffer)
    }

    @Test(arguments: sizes) func help(width: Int, height: Int) async throws {
        let h = try await ScreenHarness(width: width, height: height, fixtures: ["text"])
        h.type("?")
        try await h.settle { h.screen.contains("Keys") }
        try expectGolden("help-\(width)x\(height)", h.buffer)
    }

    @Test(arguments: sizes) func templatePicker(width: Int, height: Int) throws {
        var state = AppState(width: width, height: height, now: 1_000_000)
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 1), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
            lastActivityAt: 900_000, lastInboundAt: 900_000, unreadCount: 0, lastMessage: nil)
        _ = reduce(&state, .conversationsLoaded([conversation], hasMore: false))
        _ = reduce(&state, .key(.enter))
        _ = reduce(&state, .key(.control("t")))
        _ = reduce(&state, .templatesLoaded([
            TemplateChoice(name: "order_update", language: "en_US", body: "Hello {{1}}, order {{2}} ships", parameterCount: 2),
            TemplateChoice(name: "welcome_back", language: "pt_BR", body: "Olá {{1}}, que bom te ver!", parameterCount: 1),
        ]))
        try expectGolden("templates-\(width)x\(height)", render(state, theme: .builtIn).buffer)
    }
}
