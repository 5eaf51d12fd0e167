import ArgumentParser
import CloudAPI
import Foundation
import InboxCore
import InboxServices

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one text message or file from a script.",
        discussion: """
            Writes the message to the outbox, then sends it at once through the Cloud API \
            (WABOX_ACCESS_TOKEN, WABOX_GRAPH_URL, WABOX_GRAPH_VERSION). Prints the message id \
            (wamid) and exits 0 once the Cloud API accepted it; exits 1 with the reason in plain \
            words otherwise. A new customer is addressed by phone number and written to from \
            WABOX_PHONE_NUMBER_ID. With --file, the file is checked against WhatsApp's type and \
            size limits, copied into the media store (media_dir), uploaded and sent by its media \
            id, with --caption under it.
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The customer: a wa_id (phone number, with or without +), a user id (US.…) or a known username.",
                               valueName: "id"))
    var to: String

    @Option(help: "The words to send (up to 4096 characters).")
    var text: String?

    @Option(help: ArgumentHelp("A file to send instead: an image, video, audio, sticker or document.", valueName: "path"))
    var file: String?

    @Option(help: ArgumentHelp("With --file: the words under it.", valueName: "text"))
    var caption: String?

    @Option(name: .customLong("reply-to"), help: ArgumentHelp("Answer this message (its wamid).", valueName: "wamid"))
    var replyTo: String?

    func validate() throws {
        if (text == nil) == (file == nil) {
            throw ValidationError("give --text to send words, or --file to send a file (with --caption for words under it)")
        }
        if caption != nil, file == nil { throw ValidationError("--caption goes with --file") }
    }

    func run() async throws {
        let settings = try global.settings(postgresAllowed: true)
        guard let accessToken = settings.accessToken else {
            throw Failure("""
                wabox send needs an access token: set WABOX_ACCESS_TOKEN, or access_token in \
                \(settings.configFile ?? "config.toml") (Meta Business settings → System users → Generate token).
                """)
        }
        if let text, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || text.count > 4096 {
            throw Failure("--text must hold 1 to 4096 characters")
        }
        let request = ScriptedSend.Request(to: to, text: text, file: file, caption: caption, replyTo: replyTo.map(MessageID.init))
        do {
            let cloud = GraphCloudClient.Configuration(graphURL: settings.graphURL, graphVersion: settings.graphVersion,
                                                       accessToken: accessToken)
            let store: ScriptedSend.Store = settings.postgresLocation.map { .postgres($0) } ?? .sqlite(path: settings.databasePath)
            print(try await ScriptedSend.send(request, store: store, cloud: cloud,
                                              phoneNumberID: settings[.phoneNumberID].map(PhoneNumberID.init),
                                              mediaDirectory: settings.mediaDirectory).rawValue)
        } catch {
            throw Failure(String(describing: error))
        }
    }
}
