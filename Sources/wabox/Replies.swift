import ArgumentParser
import Foundation
import InboxServices
import InboxStore

/// `wabox replies`: the team's canned replies (the logic is `RepliesCommand`'s).
struct Replies: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list or remove the team's canned replies (/NAME + Tab in the compose line).",
        discussion: "wabox replies add NAME TEXT · wabox replies list · wabox replies remove NAME. " + RepliesCommand.usage
            + ". Personal replies go in $XDG_CONFIG_HOME/wabox/replies.toml as NAME = \"TEXT\".",
        version: BuildInfo.versionLine)

    @OptionGroup var global: GlobalOptions

    @Argument(parsing: .remaining, help: "add NAME TEXT, list, or remove NAME")
    var words: [String] = []

    func run() throws {
        let settings = try global.settings(postgresAllowed: true)
        do {
            if let location = settings.postgresLocation {
                print(try RepliesCommand.run(words, on: location))
                return
            }
            print(try RepliesCommand.run(words, database: try settings.openDatabase()))
        } catch {
            throw Failure(String(describing: error))
        }
    }
}
