import Foundation
import InboxCore
import InboxStore
import InboxTesting
@testable import InboxTUI
import MediaPreview
import Testing

/// Photos and stickers drawn inline in the thread (issue 16), on a real database with real
/// files in it: chafa's cells in the buffer under the message, or a line of text.
@Suite struct PreviewScreenTests {
    /// Left half red, right half blue, 640×480.
    private static let photo = try! ImageEncoder.jpeg(width: 640, height: 480) { x, _ in
        x < 320 ? (230, 20, 20) : (20, 20, 230)
    }

    /// A green disc on nothing, 512×512, as stickers are.
    private static let sticker = try! ImageEncoder.webp(width: 512, height: 512) { x, y in
        let dx = x - 256, dy = y - 256
        return dx * dx + dy * dy < 200 * 200 ? (20, 200, 20, 255) : (0, 0, 0, 0)
    }

    /// Kenji's media fixture with its photo (and sticker) downloaded into a media folder of
    /// the test's own.
    @discardableResult
    private func downloaded(_ h: ScreenHarness, photo: Data = photo, sticker: Data? = sticker) async throws -> String {
        let folder = h.temp.directory.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try await h.database.queueNewMedia()
        let conversation = try #require(try h.database.conversations().items.first)
        let messages = try h.database.messages(in: conversation.id).items
        var photoPath = ""
        for (wamid, bytes) in [("wamid.media.image", photo), ("wamid.media.sticker", sticker)] {
            guard let bytes, let message = messages.first(where: { $0.wamid?.rawValue == wamid }) else { continue }
            let hash = String(wamid.split(separator: ".").last!) + String(bytes.count)
            let path = folder.appendingPathComponent(hash).path
            try bytes.write(to: URL(fileURLWithPath: path))
            try await h.database.markMediaReady(message.rowID, contentHash: hash, path: path, fileSize: Int64(bytes.count),
                                                mimeType: nil)
            if wamid == "wamid.media.image" { photoPath = path }
        }
        return photoPath
    }

    private func isPictureSymbol(_ text: String) -> Bool {
        guard let scalar = text.unicodeScalars.first, text.unicodeScalars.count == 1 else { return false }
        return scalar == " " || (0x2500...0x259f).contains(scalar.value) || (0x2800...0x28ff).contains(scalar.value)
    }

    /// What an indexed colour of 16–255 looks like on a 256-colour terminal.
    private static func rgb(_ color: ThemeColor) -> (Int, Int, Int)? {
        guard case .index(let index) = color, index >= 16 else { return nil }
        let i = Int(index)
        if i >= 232 { return (8 + (i - 232) * 10, 8 + (i - 232) * 10, 8 + (i - 232) * 10) }
        let steps = [0, 95, 135, 175, 215, 255]
        return (steps[(i - 16) / 36], steps[(i - 16) / 6 % 6], steps[(i - 16) % 6])
    }

    private func isColoured(_ color: ThemeColor) -> Bool {
        if case .index(let index) = color { return index >= 16 }
        return false
    }

    /// The last row of the screen that holds `text`: the thread's, not the list's preview.
    private func row(_ h: ScreenHarness, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        try #require(h.lines.lastIndex { $0.contains(text) }, "no \(text) on the screen:\n\(h.screen)",
                     sourceLocation: sourceLocation)
    }

    private func describe(_ h: ScreenHarness, row: Int) -> String {
        let buffer = h.backend.lastFrame!.buffer
        return (0..<buffer.width).map { "\(buffer[$0, row].text)\(buffer[$0, row].style.foreground)/\(buffer[$0, row].style.background)" }
            .joined(separator: " ")
    }

    /// Cells of `row` that belong to a picture: a symbol in indexed colours.
    private func pictureCells(_ h: ScreenHarness, row: Int) -> [Cell] {
        let buffer = h.backend.lastFrame!.buffer
        return (0..<buffer.width).map { buffer[$0, row] }.filter {
            isPictureSymbol($0.text) && (isColoured($0.style.background) || isColoured($0.style.foreground))
        }
    }

    @Test func aDownloadedPhotoIsDrawnUnderItsMessageInColour() async throws {
        let h = try await ScreenHarness(width: 120, height: 40, fixtures: ["media"])
        try await downloaded(h)
        h.app.dispatch(.databaseChanged)
        try await h.settle { h.app.state.previews.values.allSatisfy { if case .ready = $0 { true } else { false } }
            && h.app.state.previews.count == 2 }
        let caption = try row(h, containing: "[image] 壊れた箱の写真です")
        // 8 rows of picture under the caption, 21 cells wide (4:3), then the time line.
        for offset in 1...8 {
            let cells = pictureCells(h, row: caption + offset)
            #expect(cells.count == 21, "row \(offset) of the picture has \(cells.count) picture cells:\n\(h.screen)")
        }
        #expect(h.lines[caption + 9].contains("08:01 · 5 KB · downloaded"), "the time line under the picture:\n\(h.screen)")
        #expect(pictureCells(h, row: caption + 9).isEmpty)
        #expect(pictureCells(h, row: caption).isEmpty)
        // The picture's colours are the photo's: red on the left, blue on the right.
        let buffer = h.backend.lastFrame!.buffer
        let columns = (0..<buffer.width).filter { isColoured(buffer[$0, caption + 4].style.background) }
        let left = buffer[try #require(columns.first), caption + 4].style.background
        let right = buffer[try #require(columns.last), caption + 4].style.background
        #expect(Self.rgb(left).map { $0.0 > 150 && $0.2 < 110 } == true, "left: \(left)")
        #expect(Self.rgb(right).map { $0.2 > 150 && $0.0 < 110 } == true, "right: \(right)")
        // The sticker too, under its line.
        let sticker = try row(h, containing: "[animated sticker]")
        #expect(pictureCells(h, row: sticker + 4).count >= 8, "the sticker:\n\(h.screen)\n\(describe(h, row: sticker + 4))")
        #expect(h.app.previews.decodes == 2)
    }

    @Test func whilePicturesAreMadeALineSaysSo() async throws {
        var state = AppState(width: 100, height: 30, now: ScreenHarness.fixedNow)
        let image = StoredMessage(
            rowID: 1, wamid: MessageID(rawValue: "wamid.p"), localID: nil, conversationID: ConversationID(rawValue: 1),
            direction: .inbound, content: .media(MediaAttachment(kind: .image, mediaID: "9", mimeType: "image/jpeg")),
            timestamp: ScreenHarness.fixedNow - 60, status: nil, statusAt: nil, replyTo: nil, forwarded: false, error: nil,
            reactions: [], media: MediaStatus(state: .ready, path: "/m/ab12"))
        let summary = try await kenji()
        state.open = summary
        let conversation = summary.id
        let effects = reduce(&state, .threadLoaded(conversation, [image], hasOlder: false, quoted: [:]))
        let request = PreviewRequest(path: "/m/ab12", maxColumns: Renderer.bubbleWidth(threadWidth: 100 - 37 - 1),
                                     maxRows: 8, colors: .indexed240)
        #expect(effects == [.makePreview(request)])
        #expect(state.previews == [request: .making])
        #expect(render(state, theme: .builtIn).buffer.lines.contains { $0.contains("[photo · drawing…]") })
        // Loaded again (a commit), nothing more is asked for.
        #expect(reduce(&state, .threadLoaded(conversation, [image], hasOlder: false, quoted: [:])) == [])
        // A result for another size is not kept.
        let other = PreviewRequest(path: "/m/ab12", maxColumns: 10, maxRows: 8, colors: .indexed240)
        _ = reduce(&state, .previewMade(other, .failure(.notAnImage)))
        #expect(state.previews[other] == nil)
        _ = reduce(&state, .previewMade(request, .failure(.damaged("Premature end of JPEG file"))))
        let lines = render(state, theme: .builtIn).buffer.lines
        #expect(lines.contains { $0.contains("[photo: the file is damaged or cut short") }
                && lines.contains { $0.contains("(Premature end of JPEG file)]") }, "\(lines.joined(separator: "\n"))")
        // Another thread forgets this one's pictures.
        _ = reduce(&state, .threadLoaded(conversation, [], hasOlder: false, quoted: [:]))
        #expect(state.previews.isEmpty)
    }

    /// Kenji's conversation, as the list shows it.
    private func kenji() async throws -> ConversationSummary {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest(Fixtures.webhook("media"))
        return try #require(try temp.database.conversations().items.first)
    }

    @Test func monoAndASCIIScreensGetALineOfText() async throws {
        let h = try await ScreenHarness(width: 120, height: 40, theme: .mono, fixtures: ["media"])
        try await downloaded(h)
        h.app.dispatch(.databaseChanged)
        try await h.settle { h.screen.contains("[photo 640×480 · o opens it]") }
        let caption = try row(h, containing: "[image] 壊れた箱の写真です")
        #expect(h.lines[caption + 1].contains("[photo 640×480 · o opens it]"))
        #expect(h.lines[caption + 2].contains("08:01 · 5 KB · downloaded"))
        #expect(h.screen.contains("[sticker 512×512 · o opens it]"))
        #expect(!h.screen.unicodeScalars.contains { (0x2580...0x259f).contains($0.value) || (0x2800...0x28ff).contains($0.value) })

        // ASCII-only (no UTF-8 locale): the same, in ASCII.
        let backend = InMemoryBackend(width: 120, height: 40)
        let app = InboxApp(database: h.database, backend: backend, theme: .builtIn,
                           configuration: .init(utcOffset: 0, asciiOnly: true, pollMilliseconds: 0, reloadInterval: .zero),
                           clock: { ScreenHarness.fixedNow })
        let deadline = Date().addingTimeInterval(10)
        repeat {
            app.step()
            try await Task.sleep(for: .milliseconds(10))
        } while !backend.text.contains("[photo 640x480 - o opens it]") && Date() < deadline
        #expect(backend.text.contains("[photo 640x480 - o opens it]"), "\(backend.text)")
    }

    @Test func aRedrawAReloadOrComingBackDecodesNothingAgain() async throws {
        let h = try await ScreenHarness(width: 120, height: 40, fixtures: ["media", "text"])
        try await downloaded(h, sticker: nil)
        // Kenji wrote last: his conversation is open on the right.
        h.app.dispatch(.databaseChanged)
        try await h.settle {
            h.app.state.open?.contact.displayName == "Kenji Sato"
                && h.app.state.previews.values.contains { if case .ready = $0 { true } else { false } }
        }
        #expect(h.app.previews.decodes == 1)
        let drawn = h.backend.lastFrame
        // Redraws and reloads after a commit: the same picture, nothing decoded.
        for _ in 0..<3 {
            h.app.dispatch(.databaseChanged)
            h.app.step()
        }
        #expect(h.backend.lastFrame == drawn)
        #expect(h.app.previews.decodes == 1)
        // Away to the other conversation and back: drawn at once from the cache.
        h.press(.down)
        try await h.settle { h.app.state.open?.contact.displayName == "Amélie Laurent" }
        #expect(h.app.state.previews.isEmpty)
        h.press(.up)
        try await h.settle { h.app.state.open?.contact.displayName == "Kenji Sato" && !h.app.state.thread.isEmpty }
        #expect(h.backend.lastFrame == drawn, "the picture was not drawn at once:\n\(h.screen)")
        #expect(h.app.previews.decodes == 1)
        // Another size is another picture.
        h.backend.width = 100
        h.app.step()
        try await h.settle { h.app.previews.decodes == 2 }
    }

    @Test func anOutboundPhotoIsDrawnOnTheRight() async throws {
        let h = try await ScreenHarness(width: 120, height: 40, fixtures: ["text"])
        let conversation = try #require(try h.database.conversations().items.first)
        let path = h.temp.directory.appendingPathComponent("label.jpg").path
        try Self.photo.write(to: URL(fileURLWithPath: path))
        try await h.database.enqueueFile(in: conversation.id, file: OutboundFile(path: path, mimeType: "image/jpeg", filename: "label.jpg",
                                                                                 size: Int64(Self.photo.count)),
                                         kind: .image, sha256: "ab12", caption: "Your label", localID: "local-1",
                                         at: ScreenHarness.fixedNow)
        h.app.dispatch(.databaseChanged)
        try await h.settle { h.app.state.previews.values.contains { if case .ready = $0 { true } else { false } } }
        let caption = try row(h, containing: "[image] Your label")
        let cells = pictureCells(h, row: caption + 1)
        #expect(cells.count == 21, "\(h.screen)\n\(describe(h, row: caption + 1))")
        // Flush right, as the outbound bubble is: the last picture cell is the pane's last but one.
        let buffer = h.backend.lastFrame!.buffer
        #expect(isPictureSymbol(buffer[buffer.width - 2, caption + 1].text) && isColoured(buffer[buffer.width - 2, caption + 1].style.background))
    }
}

extension PreviewScreenTests {
    /// A terminal with fewer than 256 colours (the session says so) gets the line of text.
    @Test func aTerminalWithoutTheIndexedColoursGetsALineOfText() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        var configuration = InboxApp.Configuration(utcOffset: 0, pollMilliseconds: 0, reloadInterval: .zero)
        configuration.drawsPictures = false
        let app = InboxApp(database: temp.database, backend: InMemoryBackend(width: 80, height: 24), theme: .builtIn,
                           configuration: configuration, clock: { ScreenHarness.fixedNow })
        #expect(app.state.previewColors == .none)
        let colourful = InboxApp(database: temp.database, backend: InMemoryBackend(width: 80, height: 24), theme: .builtIn,
                                 configuration: .init(utcOffset: 0, pollMilliseconds: 0, reloadInterval: .zero),
                                 clock: { ScreenHarness.fixedNow })
        #expect(colourful.state.previewColors == .indexed240)
    }
}
