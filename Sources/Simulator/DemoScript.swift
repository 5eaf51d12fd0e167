import Foundation
import InboxCore
import Logging
import ServiceLifecycle
import Synchronization

/// The demo's customers: they write in over real signed webhooks, at a human pace, and
/// answer back (or react) once the agent's latest reply to them is read.
///
/// The conversation on top when the screen opens is a happy one (Amélie: a reply goes
/// sent, delivered, read within seconds, and she reacts); the customers who show a
/// failure (Ravi) and a closed window (Kenji) come later or lower, each with a hint.
public final class DemoScript: Service, Sendable {
    public static let wabaID = "102290129340398"
    public static let phoneNumberID = "106540352242922"

    public static let templates: [FakeCloudAPI.Template] = [
        .init(id: "9001", name: "order_update", language: "en_US", body: "Hello {{1}}, your order {{2}} is on its way."),
        .init(id: "9002", name: "follow_up", language: "en_US",
              body: "Hi {{1}}, we are following up on your message. Reply here and we will help right away."),
        .init(id: "9003", name: "welcome_back", language: "en_US",
              body: "Welcome back! Reply to this message to continue the conversation."),
    ]

    // The cast. Names in several scripts, an emoji in one, and one customer known only
    // by a username.
    static let amelie = SimulatedCustomer(name: "Amélie Laurent", waID: "33612345678")
    static let wang = SimulatedCustomer(name: "王芳", waID: "8613800138000")
    static let layla = SimulatedCustomer(name: "ليلى حداد", waID: "971501234567")
    static let lucas = SimulatedCustomer(name: "Lucas 🚀 Oliveira", waID: "5511912345678")
    static let owl = SimulatedCustomer(name: nil, waID: nil, userID: "US.13491208655302741918", username: "night.owl")
    static let jonas = SimulatedCustomer(name: "Jonas Müller", waID: "4915112345678")
    /// Wrote three days ago: the 24-hour window is closed, only a template can reach him.
    static let kenji = SimulatedCustomer(name: "Kenji Sato", waID: "819012345678")
    /// His number no longer has WhatsApp: a reply to him fails with a reason.
    static let ravi = SimulatedCustomer(name: "Ravi Kumar", waID: "919876543210")

    static let cast = [amelie, wang, layla, lucas, owl, jonas, kenji, ravi]

    /// What the demo's hint line says while a customer's conversation is selected, by
    /// wa_id: the customers whose replies do not simply go through.
    public static let hints: [String: String] = [
        ravi.waID!: "this customer's number is not on WhatsApp: see how a failure is explained",
        kenji.waID!: "wrote 3 days ago, the 24-hour window is closed: Enter offers the approved templates",
    ]

    /// What each customer says when they write again or answer a reply.
    static let chatter: [String: [String]] = [
        amelie.userID: ["Merci beaucoup !", "D'accord, j'attends votre retour.", "Parfait, bonne journée !"],
        wang.userID: ["好的，谢谢！", "明白了。", "什么时候能到？"],
        layla.userID: ["شكراً جزيلاً!", "تمام، أنتظر ردكم.", "متى سيصل الطلب؟"],
        lucas.userID: ["Valeu! 👍", "Beleza, obrigado!", "Consegue entregar amanhã?"],
        owl.userID: ["cool, thanks 🌙", "ok!", "any update?"],
        jonas.userID: ["Danke schön!", "Alles klar.", "Wann kommt die Lieferung?"],
        kenji.userID: ["ありがとうございます！", "了解しました。"],
        ravi.userID: ["Thanks!"],
    ]

    private struct State {
        var port: Int?
        var portWaiters: [CheckedContinuation<Int, Never>] = []
        var answered: Set<String> = []
        var turn = 0
    }

    private let fake: FakeCloudAPI
    private let appSecret: String
    private let pace: Double
    private let logger: Logger
    private let builder = WebhookBuilder(phoneNumberID: phoneNumberID, displayPhoneNumber: "15550783881", wabaID: wabaID)
    private let state = Mutex(State())

    public init(fake: FakeCloudAPI, appSecret: String, pace: Double, logger: Logger) {
        self.fake = fake
        self.appSecret = appSecret
        self.pace = pace
        self.logger = logger
    }

    /// Called once the embedded listener has its port.
    public func listening(on port: Int) {
        let waiters = state.withLock { state in
            state.port = port
            defer { state.portWaiters = [] }
            return state.portWaiters
        }
        waiters.forEach { $0.resume(returning: port) }
    }

    private func port() async -> Int {
        await withCheckedContinuation { continuation in
            let port = state.withLock { state -> Int? in
                if let port = state.port { return port }
                state.portWaiters.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            let port = await self.port()
            let url = "http://127.0.0.1:\(port)/webhook"
            let poster = WebhookPoster(url: url, appSecret: self.appSecret, userAgent: "wabox-demo")
            // Replies tick at human-looking delays: sent, delivered, then read.
            self.fake.postStatuses(.init(url: url, appSecret: self.appSecret, statuses: [.sent, .delivered, .read],
                                         delay: .milliseconds(Int64(max(300, min(2_500, self.pace * 400))))))
            // The customers' files, for the downloader to fetch as it would from Meta.
            for file in DemoMedia.all { self.fake.addMedia(id: file.id, mimeType: file.mimeType, bytes: file.bytes) }
            self.fake.closeWindow(for: Self.kenji.waID!)
            self.fake.makeUndeliverable(Self.ravi.waID!)
            let reads = AsyncStream<FakeCloudAPI.PostedStatus> { continuation in
                self.fake.observeStatuses { posted in
                    if posted.status == .read, posted.isLatestToRecipient { continuation.yield(posted) }
                }
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.script(poster) }
                group.addTask { await self.answer(reads, poster) }
                await group.waitForAll()
            }
        }
    }

    // MARK: - The script

    private func script(_ poster: WebhookPoster) async {
        let now = Int64(Date().timeIntervalSince1970)
        // History: Kenji wrote three days ago. Amélie writes now, so that her conversation
        // is on top when the screen opens: the first reply a newcomer tries goes through.
        await post(builder.message(from: Self.kenji, .text("まだ届いていません。追跡番号を教えてください。"), timestamp: now - 3 * 86_400 - 600), poster)
        let firstID = WebhookBuilder.newMessageID()
        await post(builder.message(from: Self.amelie, .text("Bonjour ! Ma commande n° 4471 n'est toujours pas arrivée 😕"),
                                   id: firstID), poster)

        let steps: [(SimulatedCustomer, SimulatedMessage, String?)] = [
            (Self.wang, .file(DemoMedia.parcelPhoto), nil),
            (Self.layla, .file(DemoMedia.voiceNote), nil),
            (Self.layla, .text("مرحبا، هل يمكنني تغيير عنوان التوصيل؟"), nil),
            (Self.lucas, .location(latitude: -23.561414, longitude: -46.655881, name: "Avenida Paulista, 1578",
                                   address: "Bela Vista, São Paulo"), nil),
            (Self.owl, .text("hey, is anyone there at night? 🌙"), nil),
            (Self.jonas, .buttonReply(id: "track-order", title: "Track my order"), nil),
            (Self.ravi, .text("Hi, can you confirm my delivery address please?"), nil),
            (Self.amelie, .text("Et aussi : pouvez-vous me renvoyer la facture ?"), firstID),
            (Self.wang, .text("今天能发货吗？"), nil),
            (Self.lucas, .file(DemoMedia.invoice), nil),
        ]
        for (customer, message, replyTo) in steps {
            guard await pause(pace) else { return }
            await post(builder.message(from: customer, message, replyTo: replyTo), poster)
        }
        // Then now and then someone writes again, so the inbox stays alive.
        let talkative = [Self.amelie, Self.wang, Self.layla, Self.lucas, Self.owl, Self.jonas]
        while !Task.isCancelled {
            guard await pause(pace * 3) else { return }
            let customer = talkative.randomElement()!
            let text = Self.chatter[customer.userID]?.randomElement() ?? "Hello?"
            await post(builder.message(from: customer, .text(text)), poster)
        }
    }

    /// Once the agent's latest reply to a customer is read, the customer reacts to it or
    /// answers, turn about.
    private func answer(_ reads: AsyncStream<FakeCloudAPI.PostedStatus>, _ poster: WebhookPoster) async {
        let byContact = Dictionary(uniqueKeysWithValues: Self.cast.map { ($0.waID ?? $0.userID, $0) })
        for await read in reads {
            guard let customer = byContact[read.recipient],
                  state.withLock({ $0.answered.insert(read.wamid).inserted }) else { continue }
            let turn = state.withLock { state in
                defer { state.turn += 1 }
                return state.turn
            }
            Task {
                guard await self.pause(self.pace / 2) else { return }
                if turn % 2 == 0 {
                    let emoji = ["👍", "❤️", "🙏"][turn / 2 % 3]
                    await self.post(self.builder.message(from: customer, .reaction(to: read.wamid, emoji: emoji)), poster)
                } else {
                    let text = Self.chatter[customer.userID]?.randomElement() ?? "Thanks!"
                    await self.post(self.builder.message(from: customer, .text(text)), poster)
                }
            }
        }
    }

    /// Waits about `seconds` (±40 %); false once the demo is stopping.
    private func pause(_ seconds: Double, jitter: Bool = true) async -> Bool {
        let factor = jitter ? Double.random(in: 0.6...1.4) : 1
        do {
            try await Task.sleep(for: .milliseconds(Int64(seconds * factor * 1000)))
            return true
        } catch {
            return false
        }
    }

    private func post(_ body: Data, _ poster: WebhookPoster) async {
        let answer = await poster.post(body)
        if answer.status == nil {
            logger.warning("demo webhook not delivered: \(answer.text)")
        } else if answer.status != 200 {
            logger.warning("demo webhook answered \(answer.status!)")
        }
    }
}
