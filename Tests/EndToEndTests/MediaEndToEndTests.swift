import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// Media end to end through the real binary in tmux (private socket), the fake Cloud API in
/// the test process: a customer's photo arrives by a signed webhook, is downloaded and
/// saved with `S`, and a file goes back with Ctrl-O.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MediaEndToEndTests {
    let socket = "wabox-media-\(UUID().uuidString.prefix(8))"
    let directory: URL
    let accessToken = "media-e2e-token-5c4b3a29"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-media-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private var pane: TmuxPane { TmuxPane(socket: socket) }

    private func screen() throws -> String { try pane.screen() }

    /// Waits until the pane satisfies `condition`, returning it; fails with the last screen.
    @discardableResult
    private func waitForScreen(_ what: String, timeout: Double = 30, _ condition: (String) -> Bool) async throws -> String {
        try await pane.waitForScreen(what, timeout: timeout, condition)
    }

    /// Keys by tmux name (`Enter`, `Up`, `C-o`, `Tab`).
    private func press(_ keys: String...) throws {
        try pane.press(keys)
    }

    private func type(_ text: String) throws {
        try pane.type(text)
    }

    @Test func aCustomersPhotoIsSavedAndAFileGoesBack() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakeCloudAPI(accessToken: accessToken)
        // A real PNG, held by the fake under the id the webhook names.
        let photo = SimulatedFile(kind: .image, id: "7301", mimeType: "image/png",
                                  bytes: PNG.encode(width: 32, height: 24) { x, y in (UInt8(x * 8), UInt8(y * 10), 120) },
                                  caption: "A caixa chegou amassada")
        fake.addMedia(id: photo.id, mimeType: photo.mimeType, bytes: photo.bytes)
        let outgoing = directory.appendingPathComponent("outgoing")
        try FileManager.default.createDirectory(at: outgoing, withIntermediateDirectories: true)
        let label = outgoing.appendingPathComponent("etiqueta-4471.pdf")
        let labelBytes = Data("%PDF-1.4 etiqueta de devolução 4471\n%%EOF\n".utf8)
        try labelBytes.write(to: label)
        let saved = directory.appendingPathComponent("saved")
        let databasePath = directory.appendingPathComponent("inbox.sqlite").path

        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                let command = """
                    env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                    XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
                    WABOX_APP_SECRET="\(Fixtures.appSecret)" WABOX_VERIFY_TOKEN="\(Fixtures.verifyToken)" \
                    WABOX_ACCESS_TOKEN=\(accessToken) WABOX_PHONE_NUMBER_ID=106540352242922 WABOX_GRAPH_URL=\(graphURL) \
                    WABOX_DOWNLOAD_DIR="\(saved.path)" \
                    "\(try waboxBinary())" --listen 127.0.0.1:0 --db "\(databasePath)"; \
                    echo "wabox exited with $?"; sleep 30
                    """
                try scope.tmux(socket: socket).newSession("inbox", width: 170, height: 36, command: command)
                let first = try await waitForScreen("the listener") { $0.contains("● 127.0.0.1:") }
                let portText = first.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
                    .map { String(first[$0].split(separator: ":")[1]) }
                let port = try #require(portText.flatMap { Int($0) }, "no listener address on the screen:\n\(first)")

                // The customer's photo arrives as Meta would post it, signed.
                let customer = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                let webhook = WebhookBuilder().message(from: customer, .file(photo))
                #expect(try postSigned(webhook, port: port, via: directory) == "200")
                try await waitForScreen("the customer") { $0.contains("Ana Lima") }
                try press("Enter")
                // Downloaded in the background by this process (it holds the listener).
                try await waitForScreen("the photo downloaded") {
                    $0.contains("[image] A caixa chegou amassada") && $0.contains("downloaded")
                }
                // preview: the photo drawn inline in the thread is asserted here once the
                // preview work lands (libchafa symbols under "[image]").

                // Picked, the status bar names what o and S do; S keeps a copy.
                try press("Up")
                try await waitForScreen("the keys for a picked file") { $0.contains("o open · S save") }
                try press("S")
                let savedScreen = try await waitForScreen("the saved copy") { $0.contains("saved at \(saved.path)/") }
                let names = try FileManager.default.contentsOfDirectory(atPath: saved.path)
                #expect(names.count == 1, "\(names)")
                let name = try #require(names.first)
                #expect(name.hasPrefix("image-") && name.hasSuffix(".png"), "\(name)")
                #expect(savedScreen.contains("saved at \(saved.path)/\(name)"), "\(savedScreen)")
                #expect(FileManager.default.contents(atPath: saved.appendingPathComponent(name).path) == photo.bytes)

                // A file goes back: the reply typed is its caption, Ctrl-O asks for the path,
                // Tab completes it, Enter sends it.
                try press("Escape")  // from the picked photo to the compose line
                try type("Segue a etiqueta para a devolução")
                try press("C-o")
                try await waitForScreen("the file prompt") { $0.contains("│file:") && $0.contains("caption: Segue a etiqueta") }
                try type(outgoing.path + "/etiq")
                try press("Tab")
                try await waitForScreen("the completed path") { $0.contains("file: \(label.path)") }
                try press("Enter")
                try await waitForScreen("the file in the thread") {
                    $0.contains("[document: etiqueta-4471.pdf] Segue a etiqueta para a devolução")
                }

                // The fake received the upload, then a send by the media id it returned.
                let uploads = { fake.requests.filter { $0.method == "POST" && $0.path.hasSuffix("/106540352242922/media") } }
                let sends = { fake.messageRequests.filter { String(decoding: $0.body, as: UTF8.self).contains(#""document""#) } }
                let arrived = try await waitUntil(timeout: 30) { uploads().count == 1 && sends().count == 1 }
                #expect(arrived, "uploads: \(uploads().count), sends: \(sends().count), requests: \(fake.requests.map(\.path))")
                let upload = try #require(uploads().first)
                #expect(upload.body.range(of: labelBytes) != nil, "the upload does not carry the file's bytes")
                #expect(String(decoding: upload.body, as: UTF8.self).contains("application/pdf"))
                let send = try #require(sends().first)
                let body = try #require(try JSONSerialization.jsonObject(with: send.body) as? [String: Any])
                let document = try #require(body["document"] as? [String: Any], "\(body)")
                #expect(document["caption"] as? String == "Segue a etiqueta para a devolução")
                #expect(document["filename"] as? String == "etiqueta-4471.pdf")
                #expect(body["to"] as? String == "5511987654321" || body["recipient"] != nil, "\(body)")
                let database = try InboxDatabase(path: databasePath)
                let sent = try #require(try database.messages(in: ConversationID(rawValue: 1)).items.last)
                let mediaID = try #require(sent.media?.mediaID, "the upload's media id was not kept")
                #expect(document["id"] as? String == mediaID)
                // The copy sent lives in the media store, not at the agent's path.
                #expect(sent.media?.path?.hasPrefix(directory.appendingPathComponent("media").path) == true,
                        "\(sent.media?.path ?? "no path")")

                try press("Escape", "Escape")
                try press("q")
                try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
            }
        }
    }
}
