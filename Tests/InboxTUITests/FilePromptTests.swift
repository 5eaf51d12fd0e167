import Foundation
import InboxCore
import InboxStore
import InboxTesting
@testable import InboxTUI
import Testing

/// Ctrl-O in the compose line: the reducer's side (keys in, state and effects out).
@Suite struct FilePromptReducerTests {
    let conversation = ConversationSummary(
        id: ConversationID(rawValue: 7), business: BusinessNumber(phoneNumberID: "1"),
        contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
        lastActivityAt: 999_000, lastInboundAt: 999_000, unreadCount: 0, lastMessage: nil)

    /// The conversation open, the compose line focused, `caption` typed.
    func composing(_ caption: String = "", lastInboundAt: Int64 = 999_000) -> AppState {
        var s = AppState(width: 80, height: 24, now: 1_000_000)
        var open = conversation
        open.lastInboundAt = lastInboundAt
        _ = reduce(&s, .conversationsLoaded([open], hasMore: false))
        _ = reduce(&s, .key(.enter))
        for character in caption { _ = reduce(&s, .key(.character(character))) }
        return s
    }

    func type(_ text: String, _ s: inout AppState) {
        for character in text { _ = reduce(&s, .key(.character(character))) }
    }

    @Test func ctrlOAsksForAPathAndEnterSendsTheFileWithTheReplyAsCaption() {
        var s = composing("Voici votre étiquette")
        #expect(reduce(&s, .key(.control("o"))) == [])
        #expect(s.filePrompt == FilePrompt())
        type("~/label.pdf", &s)
        #expect(s.filePrompt?.path.text == "~/label.pdf")
        #expect(s.compose.text == "Voici votre étiquette")  // the keys went to the path
        let effects = reduce(&s, .key(.enter))
        #expect(effects == [.sendFile(conversation.id, path: "~/label.pdf", caption: "Voici votre étiquette", replyTo: nil)])
        #expect(s.filePrompt?.sending == true)
        // While it is being checked, Enter and Tab do nothing more.
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(reduce(&s, .key(.tab)) == [])
        let queued = StoredMessage(rowID: 9, wamid: nil, localID: "l", conversationID: conversation.id, direction: .outbound,
                                   content: .media(MediaAttachment(kind: .document, filename: "label.pdf")),
                                   timestamp: 1_000_000, status: .pending, statusAt: nil, replyTo: nil, forwarded: false,
                                   error: nil, reactions: [])
        _ = reduce(&s, .fileQueued(queued))
        #expect(s.filePrompt == nil)
        #expect(s.compose.isEmpty)
        #expect(s.focus == .compose)
    }

    @Test func aFileWithoutWordsHasNoCaptionAndARepliedMessageIsQuoted() {
        var s = composing()
        let picked = StoredMessage(rowID: 3, wamid: MessageID("wamid.customer.1"), localID: nil, conversationID: conversation.id,
                                   direction: .inbound, content: .text(body: "the label?"), timestamp: 999_000, status: nil,
                                   statusAt: nil, replyTo: nil, forwarded: false, error: nil, reactions: [])
        s.replyTo = picked
        _ = reduce(&s, .key(.control("o")))
        type("/srv/label.pdf", &s)
        #expect(reduce(&s, .key(.enter)) == [.sendFile(conversation.id, path: "/srv/label.pdf", caption: nil,
                                                       replyTo: MessageID("wamid.customer.1"))])
    }

    @Test func escCancelsThePromptAndKeepsTheReply() {
        var s = composing("bonjour")
        _ = reduce(&s, .key(.control("o")))
        type("doc", &s)
        #expect(reduce(&s, .key(.escape)) == [])
        #expect(s.filePrompt == nil)
        #expect(s.compose.text == "bonjour")
        #expect(s.focus == .compose)
        // The next Esc leaves the compose line as before.
        _ = reduce(&s, .key(.escape))
        #expect(s.focus == .list)
    }

    @Test func aRefusalKeepsThePathToCorrectAndSaysWhy() {
        var s = composing()
        _ = reduce(&s, .key(.control("o")))
        type("scan.jpg", &s)
        _ = reduce(&s, .key(.enter))
        _ = reduce(&s, .fileRefused("scan.jpg is 6291456 bytes: WhatsApp takes image files up to 5 MB"))
        #expect(s.flash == "not sent: scan.jpg is 6291456 bytes: WhatsApp takes image files up to 5 MB")
        #expect(s.filePrompt?.path.text == "scan.jpg")
        #expect(s.filePrompt?.sending == false)
        _ = reduce(&s, .key(.backspace))
        #expect(s.filePrompt?.path.text == "scan.jp")
    }

    @Test func anEmptyPathOrAClosedWindowSendsNothing() {
        var s = composing()
        _ = reduce(&s, .key(.control("o")))
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.flash?.contains("type the path") == true)
        var closed = composing(lastInboundAt: 1_000_000 - 2 * 86_400)
        #expect(reduce(&closed, .key(.control("o"))) == [])
        #expect(closed.filePrompt == nil)
        #expect(closed.flash?.contains("window closed") == true)
    }

    @Test func tabCompletesTheCommonPrefixAndASecondTabListsTheNames() {
        var s = composing()
        _ = reduce(&s, .key(.control("o")))
        type("~/Doc", &s)
        #expect(reduce(&s, .key(.tab)) == [.completePath("~/Doc")])
        // Two names agree on "Documents": completed that far, cursor at the end.
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "~/Doc", matches: ["Documents/", "Documents-old/"])))
        #expect(s.filePrompt?.path.text == "~/Documents")
        #expect(s.filePrompt?.path.cursor == "~/Documents".count)
        // Nothing more in common: the first Tab says so, the second lists them.
        #expect(reduce(&s, .key(.tab)) == [.completePath("~/Documents")])
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "~/Documents", matches: ["Documents/", "Documents-old/"])))
        #expect(s.filePrompt?.candidates == nil)
        #expect(s.flash == "2 names start with Documents: Tab again lists them")
        _ = reduce(&s, .key(.tab))
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "~/Documents", matches: ["Documents/", "Documents-old/"])))
        #expect(s.filePrompt?.candidates == ["Documents/", "Documents-old/"])
        // A single folder gets its slash; typing clears the list.
        type("/", &s)
        #expect(s.filePrompt?.candidates == nil)
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "~/Documents/", matches: ["invoices/"])))
        #expect(s.filePrompt?.path.text == "~/Documents/invoices/")
    }

    @Test func aStaleOrFailedCompletionChangesNothingButSaysWhy() {
        var s = composing()
        _ = reduce(&s, .key(.control("o")))
        type("/tmp/ab", &s)
        // The agent typed on while the folder was read: the old answer is dropped.
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "/tmp/a", matches: ["apple.pdf"])))
        #expect(s.filePrompt?.path.text == "/tmp/ab")
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "/tmp/ab", matches: [])))
        #expect(s.flash == "no file or folder here starts with ab")
        _ = reduce(&s, .pathCompleted(PathCompletion(typed: "/tmp/ab", matches: [], problem: "no folder /tmp")))
        #expect(s.flash == "no folder /tmp")
        #expect(s.filePrompt?.path.text == "/tmp/ab")
    }
}

/// Tab's folder reading, performed by the runner on a real temporary folder.
@Suite struct PathCompletionTests {
    /// A folder with documents, a subfolder, a hidden file and a link to a folder.
    func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-paths-\(UUID().uuidString)")
        let manager = FileManager.default
        try manager.createDirectory(at: folder.appendingPathComponent("labels/2026"), withIntermediateDirectories: true)
        for name in ["label-4471.pdf", "label-4472.pdf", "lettre.txt", ".hidden-label.pdf", "labels/2026/a.pdf"] {
            try Data("x".utf8).write(to: folder.appendingPathComponent(name))
        }
        try manager.createSymbolicLink(at: folder.appendingPathComponent("linked"),
                                       withDestinationURL: folder.appendingPathComponent("labels"))
        return folder
    }

    @Test func namesInTheFolderOfThePathFoldersWithASlash() throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let root = folder.path + "/"
        let found = PathFiles.complete(root + "la", home: "/nonexistent", workingDirectory: "/")
        #expect(found == PathCompletion(typed: root + "la", matches: ["label-4471.pdf", "label-4472.pdf", "labels/"]))
        #expect(PathFiles.complete(root + "li", home: "/", workingDirectory: "/").matches == ["linked/"])
        // Hidden names only when asked for with a dot.
        #expect(PathFiles.complete(root + ".h", home: "/", workingDirectory: "/").matches == [".hidden-label.pdf"])
        #expect(PathFiles.complete(root, home: "/", workingDirectory: "/").matches
            == ["label-4471.pdf", "label-4472.pdf", "labels/", "lettre.txt", "linked/"])
        #expect(PathFiles.complete(root + "labels/2", home: "/", workingDirectory: "/").matches == ["2026/"])
    }

    @Test func homeAndRelativePaths() throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(PathFiles.complete("~/lab", home: folder.path, workingDirectory: "/").matches == ["label-4471.pdf", "label-4472.pdf", "labels/"])
        #expect(PathFiles.complete("labels/", home: "/", workingDirectory: folder.path).matches == ["2026/"])
        #expect(PathFiles.complete("~", home: folder.path, workingDirectory: "/").matches == ["~/"])
        #expect(PathFiles.expand("~/label-4471.pdf", home: folder.path, workingDirectory: "/") == folder.path + "/label-4471.pdf")
        #expect(PathFiles.expand("a.pdf", home: "/", workingDirectory: folder.path) == folder.path + "/a.pdf")
        #expect(PathFiles.expand("/etc/hosts", home: "/h", workingDirectory: "/w") == "/etc/hosts")
        let missing = PathFiles.complete(folder.path + "/nope/x", home: "/", workingDirectory: "/")
        #expect(missing.matches.isEmpty)
        #expect(missing.problem == "no folder \(folder.path)/nope")
        let file = PathFiles.complete(folder.path + "/lettre.txt/x", home: "/", workingDirectory: "/")
        #expect(file.problem == "\(folder.path)/lettre.txt is a file, not a folder")
    }

    /// The whole way through the runner: Ctrl-O, a few letters, Tab twice, Tab on a
    /// folder, on a real folder and an in-memory terminal.
    @Test func tabCompletesOnTheScreen() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let h = try await ScreenHarness(width: 160, height: 24)
        let now = ScreenHarness.fixedNow
        let body = Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{\
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},\
            "contacts":[{"profile":{"name":"Ana Lima"},"wa_id":"5511987654321"}],\
            "messages":[{"from":"5511987654321","id":"wamid.ANA.1","timestamp":"\(now - 60)","type":"text","text":{"body":"a etiqueta?"}}]}}]}]}
            """.utf8)
        _ = try await h.database.ingest(Fixtures.webhook(body: body))
        try await h.settle { h.app.state.conversations.count == 1 }
        h.press(.enter)
        h.press(.control("o"))
        try await h.settle { h.screen.contains("file: ") }
        h.type(folder.path + "/la")
        h.press(.tab)
        try await h.settle { h.app.state.filePrompt?.path.text == folder.path + "/label" }
        h.press(.tab)
        try await h.settle { h.app.state.flash?.contains("Tab again lists them") == true }
        h.press(.tab)
        try await h.settle { h.screen.contains("label-4471.pdf  label-4472.pdf  labels/") }
        h.type("s")
        h.press(.tab)
        try await h.settle { h.app.state.filePrompt?.path.text == folder.path + "/labels/" }
        #expect(h.screen.contains("file: " + folder.path + "/labels/"))
    }
}
