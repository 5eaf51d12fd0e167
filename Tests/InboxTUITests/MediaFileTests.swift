import Foundation
import InboxCore
import InboxStore
import InboxTesting
@testable import InboxTUI
import Testing

/// `o` and `S` on a picked message: which effect the reducer asks for, or why none.
@Suite struct MediaFileKeyTests {
    private static let sentAt: Int64 = 1_764_403_304  // Sat 29 Nov 2025 08:01 UTC

    private func picked(_ content: MessageContent, media: MediaStatus?, sending: SendingState = .on) -> AppState {
        var state = AppState(width: 80, height: 24, now: 1_764_405_600)
        state.listener.sending = sending
        state.thread = [StoredMessage(
            rowID: 41, wamid: MessageID(rawValue: "wamid.file"), localID: nil, conversationID: ConversationID(rawValue: 7),
            direction: .inbound, content: content, timestamp: Self.sentAt, status: nil, statusAt: nil, replyTo: nil,
            forwarded: false, error: nil, reactions: [], media: media)]
        state.focus = .thread
        state.pickedMessage = 41
        return state
    }

    private func document(_ filename: String?) -> MessageContent {
        .media(MediaAttachment(kind: .document, mediaID: "1203948580", mimeType: "application/pdf", filename: filename))
    }

    private let ready = MediaStatus(state: .ready, path: "/srv/wabox/media/ab12", fileSize: 812, mimeType: "application/pdf")

    @Test func oOpensAndSSavesADownloadedFile() {
        var state = picked(document("invoice-2291.pdf"), media: ready)
        #expect(reduce(&state, .key(.character("o"))) == [.openFile(path: "/srv/wabox/media/ab12")])
        #expect(reduce(&state, .key(.character("S"))) == [.saveFile(path: "/srv/wabox/media/ab12", name: "invoice-2291.pdf")])
        #expect(state.flash == nil)
        #expect(state.focus == .thread)
    }

    @Test func aFileWithoutANameIsNamedByKindDateAndType() {
        let image = MessageContent.media(MediaAttachment(kind: .image, mediaID: "1", mimeType: "image/jpeg"))
        var state = picked(image, media: MediaStatus(state: .ready, path: "/m/1", mimeType: "image/jpeg"))
        #expect(reduce(&state, .key(.character("S"))) == [.saveFile(path: "/m/1", name: "image-2025-11-29.jpg")])
        let voice = MessageContent.media(MediaAttachment(kind: .voice, mediaID: "2", mimeType: "audio/ogg; codecs=opus"))
        state = picked(voice, media: MediaStatus(state: .ready, path: "/m/2"))
        #expect(reduce(&state, .key(.character("S"))) == [.saveFile(path: "/m/2", name: "voice-2025-11-29.ogg")])
        // The day is the screen's: 08:01 UTC is already the 30th at UTC+16.
        #expect(MediaFiles.day(Self.sentAt, utcOffset: 16 * 3600) == "2025-11-30")
        // Nothing known about the type: no extension rather than a wrong one.
        let odd = MessageContent.media(MediaAttachment(kind: .document, mediaID: "3", mimeType: "application/x-odd"))
        state = picked(odd, media: MediaStatus(state: .ready, path: "/m/3"))
        #expect(reduce(&state, .key(.character("S"))) == [.saveFile(path: "/m/3", name: "document-2025-11-29")])
    }

    @Test func aHostileFileNameBecomesAPlainName() {
        var state = picked(document("../../etc/passwd\u{202e}gpj.exe"), media: ready)
        let effects = reduce(&state, .key(.character("S")))
        #expect(effects == [.saveFile(path: "/srv/wabox/media/ab12", name: "etc_passwd_gpj.exe")])
        // An escape sequence and leading dots are taken out too.
        state = picked(document("..\u{1b}[2J"), media: ready)
        guard case .saveFile(_, let name) = reduce(&state, .key(.character("S"))).first else {
            Issue.record("no save")
            return
        }
        #expect(!name.contains("/") && !name.contains("\u{1b}") && !name.hasPrefix("."))
    }

    @Test func aFileNotReadySaysWhy() {
        var state = picked(document("a.pdf"), media: MediaStatus(state: .pending))
        #expect(reduce(&state, .key(.character("o"))) == [])
        #expect(state.flash?.hasPrefix("still downloading") == true)
        state = picked(document("a.pdf"), media: nil)
        #expect(reduce(&state, .key(.character("S"))) == [])
        #expect(state.flash?.hasPrefix("still downloading") == true)
        state = picked(document("a.pdf"), media: MediaStatus(state: .pending), sending: .off("no token"))
        #expect(reduce(&state, .key(.character("S"))) == [])
        #expect(state.flash?.hasPrefix("not downloaded") == true)
        state = picked(document("a.pdf"), media: MediaStatus(state: .failed, reason: "checksum mismatch"))
        #expect(reduce(&state, .key(.character("S"))) == [])
        #expect(state.flash == "failed: checksum mismatch")
        state = picked(document("a.pdf"), media: MediaStatus(state: .expired, reason: "sent 9 days ago"))
        #expect(reduce(&state, .key(.character("o"))) == [])
        #expect(state.flash == "expired: sent 9 days ago")
    }

    @Test func aTextMessageHasNoFile() {
        var state = picked(.text(body: "hello"), media: nil)
        #expect(reduce(&state, .key(.character("o"))) == [])
        #expect(state.flash?.hasPrefix("o and S work on") == true)
        // In the compose line the letters are text.
        state.focus = .compose
        state.flash = nil
        #expect(reduce(&state, .key(.character("S"))) == [])
        #expect(state.compose.text == "S")
    }

    @Test func numberedNamesKeepTheExtension() {
        #expect(MediaFiles.numbered("invoice.pdf", 1) == "invoice.pdf")
        #expect(MediaFiles.numbered("invoice.pdf", 2) == "invoice (2).pdf")
        #expect(MediaFiles.numbered("README", 3) == "README (3)")
        let long = String(repeating: "é", count: 127) + ".pdf"  // 258 bytes before cutting
        let numbered = MediaFiles.numbered(SafeFileName.make(from: long), 12)
        #expect(numbered.utf8.count <= SafeFileName.maximumBytes)
        #expect(numbered.hasSuffix(" (12).pdf"))
    }

    @Test func openCommandIsFoundOnThePathOrByItsPath() {
        #expect(MediaFiles.executable("sh", searchPath: "/nonexistent:/bin:/usr/bin") != nil)
        #expect(MediaFiles.executable("/bin/sh", searchPath: nil)?.path == "/bin/sh")
        #expect(MediaFiles.executable("no-such-opener-wabox", searchPath: "/bin:/usr/bin") == nil)
        // A directory is not a program.
        #expect(MediaFiles.executable("/bin", searchPath: nil) == nil)
    }
}

/// `o` and `S` performed by the runner on a temporary database and temporary folders.
@Suite struct MediaFileRunnerTests {
    /// A screen whose one conversation holds one document from the customer, downloaded
    /// into the media store; the document is picked.
    private func screenWithDownloadedFile(named filename: String, openCommand: String? = nil,
                                          downloads: String? = nil) async throws -> (ScreenHarness, String) {
        let h = try await ScreenHarness(openCommand: openCommand, downloadDirectory: downloads)
        let name = String(decoding: try JSONEncoder().encode(filename), as: UTF8.self)
        let body = """
            {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
              "messaging_product": "whatsapp",
              "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
              "contacts": [{"profile": {"name": "Kenji Sato"}, "wa_id": "819012345678"}],
              "messages": [{"from": "819012345678", "id": "wamid.media.document", "timestamp": "1764403304", "type": "document",
                "document": {"id": "1203948580", "mime_type": "application/pdf", "sha256": "h4shd0c", "filename": \(name)}}]
            }}]}]}
            """
        _ = try await h.database.ingest(Fixtures.webhook(body: Data(body.utf8)))
        try await h.database.queueNewMedia()
        let item = try #require(try await h.database.dueMedia(at: .max, limit: 10).first)
        let store = h.temp.directory.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        let kept = store.appendingPathComponent("9f2c").path
        try Data("%PDF-1.4 the invoice".utf8).write(to: URL(fileURLWithPath: kept))
        try await h.database.markMediaReady(item.messageID, contentHash: "9f2c", path: kept, fileSize: 20,
                                            mimeType: "application/pdf")
        try await h.settle { h.app.state.conversations.count == 1 }
        h.press(.enter)  // opens the conversation, into the compose line
        try await h.settle { h.app.state.thread.last?.media?.state == .ready }
        h.press(.up)  // picks the document
        #expect(h.app.state.focus == .thread)
        #expect(h.app.state.pickedMessage == h.app.state.thread.last?.rowID)
        return (h, kept)
    }

    private func flash(_ h: ScreenHarness) -> String { h.app.state.flash ?? "" }

    @Test func savingTwiceKeepsTwoCopiesUnderTwoNames() async throws {
        let downloads = FileManager.default.temporaryDirectory
            .appendingPathComponent("wabox-downloads-\(UUID().uuidString)").appendingPathComponent("not yet made")
        defer { try? FileManager.default.removeItem(at: downloads.deletingLastPathComponent()) }
        let (h, kept) = try await screenWithDownloadedFile(named: "invoice-2291.pdf", downloads: downloads.path)
        h.press(.character("S"))
        try await h.settle { flash(h).hasPrefix("saved at") }
        let first = downloads.appendingPathComponent("invoice-2291.pdf").path
        #expect(flash(h) == "saved at \(first)")
        h.press(.character("S"))
        try await h.settle { flash(h).hasPrefix("saved at") }
        let second = downloads.appendingPathComponent("invoice-2291 (2).pdf").path
        #expect(flash(h) == "saved at \(second)")
        let names = try FileManager.default.contentsOfDirectory(atPath: downloads.path).sorted()
        #expect(names == ["invoice-2291 (2).pdf", "invoice-2291.pdf"])
        for copy in [first, second] {
            #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: kept))
        }
        // The media store's file is left as it was.
        #expect(FileManager.default.contents(atPath: kept) == Data("%PDF-1.4 the invoice".utf8))
    }

    @Test func aHostileFileNameStaysInsideTheDownloadFolder() async throws {
        let (h, _) = try await screenWithDownloadedFile(named: "../../etc/passwd\u{202e}gpj.exe")
        let downloads = h.temp.directory.appendingPathComponent("Downloads")
        h.press(.character("S"))
        try await h.settle { flash(h).hasPrefix("saved at") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: downloads.path) == ["etc_passwd_gpj.exe"])
        #expect(flash(h) == "saved at \(downloads.appendingPathComponent("etc_passwd_gpj.exe").path)")
        // Nothing was written above the folder, where `../../etc` would have led.
        #expect(!FileManager.default.fileExists(atPath: h.temp.directory.deletingLastPathComponent()
            .appendingPathComponent("etc/passwd\u{202e}gpj.exe").path))
    }

    @Test func anExistingFileIsNeverOverwritten() async throws {
        let (h, _) = try await screenWithDownloadedFile(named: "invoice-2291.pdf")
        let downloads = h.temp.directory.appendingPathComponent("Downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        let theirs = downloads.appendingPathComponent("invoice-2291.pdf")
        try Data("the agent's own file".utf8).write(to: theirs)
        // A link planted under the next name is not followed either.
        try FileManager.default.createSymbolicLink(atPath: downloads.appendingPathComponent("invoice-2291 (2).pdf").path,
                                                   withDestinationPath: h.temp.directory.appendingPathComponent("elsewhere").path)
        h.press(.character("S"))
        try await h.settle { flash(h).hasPrefix("saved at") }
        #expect(flash(h) == "saved at \(downloads.appendingPathComponent("invoice-2291 (3).pdf").path)")
        #expect(FileManager.default.contents(atPath: theirs.path) == Data("the agent's own file".utf8))
        #expect(!FileManager.default.fileExists(atPath: h.temp.directory.appendingPathComponent("elsewhere").path))
    }

    @Test func openCommandGetsThePathAsItsOneArgument() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-opener-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("opener").path
        let record = folder.appendingPathComponent("argument").path
        // Records its arguments, one per line, and takes the file's name in one step.
        try """
            #!/bin/sh
            printf '%s\\n' "$#" "$@" > "\(record).partial" && mv "\(record).partial" "\(record)"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let (h, kept) = try await screenWithDownloadedFile(named: "invoice-2291.pdf", openCommand: script)
        h.press(.character("o"))
        try await h.settle { FileManager.default.fileExists(atPath: record) && flash(h).hasPrefix("opened") }
        #expect(try String(contentsOfFile: record, encoding: .utf8) == "1\n\(kept)\n")
        #expect(flash(h) == "opened with \(script)")
    }

    @Test func aFailingOpenCommandSaysSo() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-opener-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("refuses").path
        try "#!/bin/sh\nexit 3\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let (h, _) = try await screenWithDownloadedFile(named: "invoice-2291.pdf", openCommand: script)
        h.press(.character("o"))
        try await h.settle { flash(h).contains("exited") }
        #expect(flash(h) == "\(script) exited with status 3")
    }

    @Test func withoutOpenCommandTheScreenSaysWhereTheFileIs() async throws {
        let (h, kept) = try await screenWithDownloadedFile(named: "invoice-2291.pdf")
        h.press(.character("o"))
        #expect(flash(h) == "saved at \(kept): set open_command (WABOX_OPEN_COMMAND) to open it")
    }

    @Test func anOpenCommandNotOnThePathIsNamed() async throws {
        let (h, kept) = try await screenWithDownloadedFile(named: "invoice-2291.pdf", openCommand: "no-such-opener-wabox")
        h.press(.character("o"))
        try await h.settle { flash(h).hasPrefix("could not open") }
        #expect(flash(h) == "could not open \(kept): open_command no-such-opener-wabox is not on PATH")
    }
}
