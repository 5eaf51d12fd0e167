import CloudAPI
import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// Sending a file: checked, copied into the media store, uploaded once, sent by its id.
@Suite struct OutboundMediaTests {
    func write(_ bytes: Data, named name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url.path
    }

    @Test func aDocumentIsUploadedOnceAndSentByItsID() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let pdf = Data("%PDF-1.4 a shipping label".utf8)
        let original = try write(pdf, named: "label-4471.pdf", in: temp.directory)
        let media = temp.directory.appendingPathComponent("media").path
        let outgoing = try OutgoingFile.prepare(path: original, mediaDirectory: media)
        #expect(outgoing.kind == .document)
        #expect(outgoing.file.path == "\(media)/\(MediaDigest.hex(of: pdf))")
        // The outbox keeps its own copy: the original may go.
        try FileManager.default.removeItem(atPath: original)

        let clock = ManualClock()
        try await temp.database.enqueueFile(in: conversation, file: outgoing.file, kind: outgoing.kind,
                                            sha256: outgoing.sha256, caption: "Votre étiquette", localID: "f-1",
                                            at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        // The first send of the message fails after the upload: the retry must not upload again.
        let outcomes = try await fake.withRunning { url in
            let sender = OutboxSender(database: temp.database, client: client(url), clock: clock.senderClock, logger: quiet)
            fake.failNext(1, with: .serverError(status: 503))
            var outcomes = try await sender.sendDue()
            clock.advance(60_000)
            outcomes += try await sender.sendDue()
            return outcomes
        }
        guard case .accepted = try #require(outcomes.last) else { Issue.record("\(outcomes)"); return }
        let uploads = fake.requests.filter { $0.method == "POST" && $0.path.hasSuffix("/media") }
        #expect(uploads.count == 1, "uploaded once, reused on the retry")
        let upload = try #require(uploads.first)
        #expect(upload.authorization == "Bearer \(accessToken)")
        let form = String(decoding: upload.body, as: UTF8.self)
        #expect(form.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"))
        #expect(form.contains("name=\"type\"\r\n\r\napplication/pdf\r\n"))
        #expect(form.contains("filename=\"label-4471.pdf\""))
        #expect(form.contains("%PDF-1.4 a shipping label"))

        let sends = fake.messageRequests
        #expect(sends.count == 2)
        let body = try #require(sends.last?.json)
        guard case .object(let fields) = body, case .object(let document)? = fields["document"],
              case .string(let id)? = document["id"] else { Issue.record("\(body)"); return }
        #expect(id.hasPrefix("9"))
        #expect(document["caption"] == .string("Votre étiquette"))
        #expect(document["filename"] == .string("label-4471.pdf"))
        #expect(fields["type"] == .string("document"))
        // The fake keeps what it was sent: the same bytes come back by that id.
        let fetched = try await fake.withRunning { url in
            try await client(url).downloadMedia(try await client(url).mediaInfo(id), maxBytes: 1 << 20)
        }
        #expect(fetched == pdf)
        #expect(try await temp.database.outboundMessage(localID: "f-1")?.status == .accepted)
    }

    @Test func filesOverTheLimitsAreRefusedWithTheLimitInWords() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let media = directory.appendingPathComponent("media").path
        let big = try write(Data(count: 5 * 1024 * 1024 + 1), named: "photo.png", in: directory)
        #expect(throws: OutgoingFile.Refusal.self) { try OutgoingFile.prepare(path: big, mediaDirectory: media) }
        do {
            _ = try OutgoingFile.prepare(path: big, mediaDirectory: media)
        } catch {
            #expect(error.description == "photo.png is 5242881 bytes: WhatsApp takes image files up to 5 MB")
        }
        let program = try write(Data("MZ".utf8), named: "setup.exe", in: directory)
        do {
            _ = try OutgoingFile.prepare(path: program, mediaDirectory: media)
            Issue.record("an .exe was accepted")
        } catch {
            #expect(error.description.hasPrefix("setup.exe: WhatsApp does not take this type of file"))
        }
        #expect(!FileManager.default.fileExists(atPath: media), "nothing refused is copied")
        let sticker = try write(Data(count: 200 * 1024), named: "wave.webp", in: directory)
        do {
            _ = try OutgoingFile.prepare(path: sticker, mediaDirectory: media)
            Issue.record("a 200 KB sticker was accepted")
        } catch {
            #expect(error.description.contains("sticker files up to 100 KB"))
        }
    }

    @Test func mediaBodiesAreAsDocumented() throws {
        let image = OutboundMessage(recipient: .waID("33612345678"),
                                    kind: .media(OutboundMedia(kind: .image, mediaID: "77", caption: "the box")))
        #expect(try JSONDecoder().decode(JSONValue.self, from: CloudJSON.encode(image.body)) == (try json("""
            {"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"image",
             "image":{"id":"77","caption":"the box"}}
            """)))
        let voice = OutboundMessage(recipient: .userID("US.1"), kind: .media(OutboundMedia(kind: .audio, mediaID: "78", caption: "x")))
        #expect(try JSONDecoder().decode(JSONValue.self, from: CloudJSON.encode(voice.body)) == (try json("""
            {"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.1","type":"audio","audio":{"id":"78"}}
            """)), "audio takes no caption")
    }
}
