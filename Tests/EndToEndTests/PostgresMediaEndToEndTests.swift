import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import Simulator
import Testing

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Customers' files on a shared PostgreSQL inbox, with the real binaries: two `wabox
/// serve` with a token each (on two "hosts", each with a media folder of its own), and an
/// agent's screen on a third. One listener at a time downloads, each file once; when it is
/// killed the other takes over; the screen, which shares no folder with either, shows the
/// photo downloaded and saves a copy of its bytes.
@Suite(.postgresServer, .serialized, .timeLimit(.minutes(5)))
struct PostgresMediaEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]
    let accessToken = "pg-media-access-token-3e9d"
    let socket = "wabox-pgmedia-\(UUID().uuidString.prefix(8))"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-pgmedia")
    }

    /// The queue's state of the message `wamid`, once it has a row.
    private func mediaState(_ store: PostgresStore, _ wamid: String) async throws -> String? {
        let rows = try await store.client.query("""
            SELECT md.state FROM media md JOIN message m ON m.id = md.message_id WHERE m.wamid = \(wamid)
            """, logger: quiet)
        for try await state in rows.decode(String.self) { return state }
        return nil
    }

    /// Polls `condition` until it holds or `timeout` seconds pass.
    private func eventually(timeout: Double, _ condition: () async -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return await condition()
    }

    @Test func oneListenerDownloadsEachFileOnceAndAScreenElsewhereShowsIt() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        let fake = FakeCloudAPI(accessToken: accessToken)
        let photo = SimulatedFile(kind: .image, id: "7401", mimeType: "image/png",
                                  bytes: PNG.encode(width: 40, height: 30) { x, y in (UInt8(x * 6), UInt8(y * 8), 90) },
                                  caption: "La caja llegó rota")
        let invoice = SimulatedFile(kind: .document, id: "7402", mimeType: "application/pdf",
                                    bytes: Data("%PDF-1.4 factura 9921\n%%EOF\n".utf8), caption: "La factura",
                                    filename: "factura-9921.pdf")
        let later = SimulatedFile(kind: .image, id: "7403", mimeType: "image/png",
                                  bytes: PNG.encode(width: 20, height: 20) { x, y in (UInt8(x * 12), 40, UInt8(y * 12)) },
                                  caption: "Otra foto")
        let voice = try #require(DemoMedia.all.first { $0.kind == .voice })
        for file in [photo, invoice, later, voice] { fake.addMedia(id: file.id, mimeType: file.mimeType, bytes: file.bytes) }
        // The operator's transcriber: it says which file it was given, so the test sees it
        // ran on a readable copy.
        let transcribe = directory.appendingPathComponent("transcribe").path
        try "#!/bin/sh\ntest -r \"$1\" || exit 3\nprintf 'hola, llamo por la caja rota (%s bytes)\\n' \"$(wc -c < \"$1\" | tr -d ' ')\"\n"
            .write(toFile: transcribe, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: transcribe)
        let customer = SimulatedCustomer(name: "Lucía Fernández", waID: "34612345678")
        let builder = WebhookBuilder()

        try await fake.withRunning { graphURL in
            try await withProcesses { scope in
                // Two listeners on two "hosts": a media folder each.
                var started: [(process: BackgroundProcess, port: Int)] = []
                for host in ["a", "b"] {
                    var sending = environment
                    sending["WABOX_ACCESS_TOKEN"] = accessToken
                    sending["WABOX_PHONE_NUMBER_ID"] = "106540352242922"
                    sending["WABOX_GRAPH_URL"] = graphURL
                    sending["WABOX_MEDIA_DIR"] = directory.appendingPathComponent("host-\(host)/media").path
                    sending["WABOX_TRANSCRIBE_COMMAND"] = transcribe
                    started.append(try await startServe(in: scope, database: url, environment: sending))
                }
                let listeners = started
                #expect(try postSigned(builder.message(from: customer, .file(photo), id: "wamid.pgmedia.photo"),
                                       port: listeners[0].port, via: directory) == "200")
                #expect(try postSigned(builder.message(from: customer, .file(invoice), id: "wamid.pgmedia.invoice"),
                                       port: listeners[1].port, via: directory) == "200")

                let location = server.location(database: database)
                try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 1) { store in
                    let ready = try await eventually(timeout: 60) {
                        let states = try? await [mediaState(store, "wamid.pgmedia.photo"), mediaState(store, "wamid.pgmedia.invoice")]
                        return states == ["ready", "ready"]
                    }
                    #expect(ready, "not downloaded:\n\(listeners[0].process.log)\n\(listeners[1].process.log)")
                    #expect(try await store.mediaFile(contentHash: MediaDigest.hex(of: photo.bytes)) == photo.bytes)
                }
                #expect(fake.mediaDownloads == 2, "each file is downloaded once, by one of the two")

                // The holder of the downloader's lease is killed; the other takes over.
                let holds = "this listener holds the media downloader's lease"
                let holder = try #require(listeners.firstIndex { $0.process.log.contains(holds) },
                                          "neither listener says it downloads")
                #expect(listeners.filter { $0.process.log.contains(holds) }.count == 1)
                listeners[holder].process.send(SIGKILL)
                let survivor = listeners[1 - holder]
                #expect(try postSigned(builder.message(from: customer, .file(later), id: "wamid.pgmedia.later"),
                                       port: survivor.port, via: directory) == "200")
                try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 1) { store in
                    let ready = try await eventually(timeout: 60) { (try? await mediaState(store, "wamid.pgmedia.later")) == "ready" }
                    #expect(ready, "the survivor did not take the downloads over:\n\(survivor.process.log)")
                }
                #expect(survivor.process.log.contains(holds))
                #expect(fake.mediaDownloads == 3)
                // A voice note: downloaded, then transcribed by the one listener left.
                #expect(try postSigned(builder.message(from: customer, .file(voice), id: "wamid.pgmedia.voice"),
                                       port: survivor.port, via: directory) == "200")
                try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 1) { store in
                    let transcribed = try await eventually(timeout: 60) {
                        let rows = try? await store.client.query("""
                            SELECT t.text FROM transcript t JOIN message m ON m.id = t.message_id
                            WHERE m.wamid = 'wamid.pgmedia.voice' AND t.state = 'done'
                            """, logger: quiet).collect()
                        return rows?.isEmpty == false
                    }
                    #expect(transcribed, "no transcript:\n\(survivor.process.log)")
                }
                #expect(survivor.process.log.contains("this listener holds the transcriber's lease"))

                // An agent on a third host: the listeners' folders are not there.
                for host in ["a", "b"] {
                    try FileManager.default.removeItem(at: directory.appendingPathComponent("host-\(host)/media"))
                }
                let saved = directory.appendingPathComponent("saved")
                let screenMedia = directory.appendingPathComponent("host-c/media")
                let command = """
                    env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                    XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state-c" \
                    WABOX_MEDIA_DIR="\(screenMedia.path)" WABOX_DOWNLOAD_DIR="\(saved.path)" \
                    "\(try waboxBinary())" --agent carmen --db "\(url)"; echo "wabox exited with $?"; sleep 30
                    """
                try scope.tmux(socket: socket).newSession("carmen", width: 150, height: 36, command: command)
                let pane = TmuxPane(socket: socket, target: "carmen")
                try await pane.waitForScreen("the customer", timeout: 30) { $0.contains("Lucía Fernández") }
                try pane.press(["Enter"])
                try await pane.waitForScreen("the photo copied to this host and shown downloaded", timeout: 30) {
                    $0.contains("[image] La caja llegó rota") && $0.contains("downloaded")
                }
                #expect(FileManager.default.contents(atPath: screenMedia.appendingPathComponent(MediaDigest.hex(of: photo.bytes)).path)
                        == photo.bytes)
                try await pane.waitForScreen("the voice note's transcript", timeout: 30) {
                    $0.contains("transcript: hola, llamo por la caja rota (\(voice.bytes.count) bytes)")
                }
                // Picked and saved: the customer's bytes, on the agent's host.
                try pane.press(["Up", "Up", "Up"])
                try await pane.waitForScreen("the keys for a picked file", timeout: 30) { $0.contains("o open · S save") }
                let picked = try pane.screen()
                try pane.press(["S"])
                try await pane.waitForScreen("the saved copy", timeout: 30) { $0.contains("saved at \(saved.path)/") }
                let names = try FileManager.default.contentsOfDirectory(atPath: saved.path)
                #expect(names.count == 1, "\(names)")
                let copy = names.first.flatMap { FileManager.default.contents(atPath: saved.appendingPathComponent($0).path) }
                #expect([photo.bytes, invoice.bytes, later.bytes, voice.bytes].contains(copy),
                        "saved a file that is none of the four:\n\(picked)")

                // A file goes back from this host: Ctrl-O, the path, Enter; the survivor's
                // sender uploads the bytes the database keeps, and sends it by its media id.
                let label = directory.appendingPathComponent("outgoing/etiqueta-devolucion.pdf")
                try FileManager.default.createDirectory(at: label.deletingLastPathComponent(), withIntermediateDirectories: true)
                let labelBytes = Data("%PDF-1.4 etiqueta de devolución 5531\n%%EOF\n".utf8)
                try labelBytes.write(to: label)
                fake.postStatuses(.init(url: "http://127.0.0.1:\(survivor.port)/webhook", appSecret: Fixtures.appSecret,
                                        statuses: [.sent, .delivered]))
                try pane.press(["Escape"])
                try pane.type("Aquí tiene la etiqueta")
                try pane.press(["C-o"])
                try await pane.waitForScreen("the file prompt", timeout: 30) { $0.contains("│file:") }
                try pane.type(label.path)
                try pane.press(["Enter"])
                try await pane.waitForScreen("the file in the thread", timeout: 30) {
                    $0.contains("[document: etiqueta-devolucion.pdf] Aquí tiene la etiqueta")
                }
                let uploads = { fake.requests.filter { $0.method == "POST" && $0.path.hasSuffix("/106540352242922/media") } }
                let sends = { fake.messageRequests.filter { String(decoding: $0.body, as: UTF8.self).contains(#""document""#) } }
                let went = try await waitUntil(timeout: 60) { uploads().count == 1 && sends().count == 1 }
                #expect(went, "uploads \(uploads().count), sends \(sends().count):\n\(survivor.process.log)")
                #expect(uploads().first?.body.range(of: labelBytes) != nil, "the upload does not carry the file's bytes")
                try await pane.waitForScreen("the file delivered", timeout: 30) { screen in
                    screen.components(separatedBy: "\n").contains { $0.contains("(carmen) · ") && $0.contains("✓✓") }
                }

                try pane.press(["Escape", "Escape", "q"])
                try await pane.waitForScreen("wabox to exit", timeout: 30) { $0.contains("wabox exited with 0") }
                #expect(await survivor.process.stop() == 0)
            }
        }
    }
}
