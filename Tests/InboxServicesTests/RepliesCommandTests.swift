import Foundation
import InboxServices
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// `wabox replies` and the personal replies file.
@Suite struct RepliesCommandTests {
    @Test func addListRemove() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        #expect(try RepliesCommand.run(["list"], database: db, agent: "alice").hasPrefix("no team replies yet"))
        #expect(try RepliesCommand.run(["add", "hello", "Hi", "{{name}}!"], database: db, agent: "alice")
                == "added /hello: every screen offers it with /hello and Tab")
        #expect(try RepliesCommand.run(["add", "hello", "Hello {{name}}"], database: db, agent: "alice").hasPrefix("replaced /hello"))
        _ = try RepliesCommand.run(["add", "bye", "Bye\nnow"], database: db, agent: nil)
        #expect(try RepliesCommand.run(["list"], database: db, agent: nil) == "/bye\tBye\\nnow\n/hello\tHello {{name}}")
        #expect(try RepliesCommand.run(["remove", "bye"], database: db, agent: nil) == "removed /bye")
        #expect(try db.cannedReplies() == [CannedReply(name: "hello", text: "Hello {{name}}")])
    }

    @Test func mistakesSayWhatToDo() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        func failure(_ words: [String]) -> String {
            do {
                _ = try RepliesCommand.run(words, database: temp.database, agent: nil)
                return ""
            } catch {
                return String(describing: error)
            }
        }
        #expect(failure(["add", "hello"]).hasPrefix("replies add needs a name and a text: use `wabox replies add NAME TEXT`"))
        #expect(failure(["add", "two words", "x"]).hasPrefix("reply name \"two words\" must be 1 to 32 letters"))
        #expect(failure(["remove", "nope"]) == "no team reply is called nope: `wabox replies list` shows them")
        #expect(failure(["frobnicate"]).hasPrefix("unknown replies command frobnicate: use"))
        #expect(failure([]).hasPrefix("use `wabox replies add NAME TEXT`"))
    }

    @Test func personalRepliesFileIsReadOrRefusedWithItsLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-replies-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["XDG_CONFIG_HOME": directory.path]
        #expect(try ScreenSession.personalReplies(environment: environment) == [])  // no file: none
        let file = CannedReply.personalFile(environment: environment)
        #expect(file == directory.path + "/wabox/replies.toml")
        try FileManager.default.createDirectory(atPath: directory.path + "/wabox", withIntermediateDirectories: true)
        try "# mine\nthanks = \"Thanks {{name}}!\"\nbye = \"\"\"\nSee you\n\"\"\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ScreenSession.personalReplies(environment: environment)
                == [CannedReply(name: "bye", text: "See you\n"), CannedReply(name: "thanks", text: "Thanks {{name}}!")])
        func refusal(_ text: String) -> String {
            do {
                _ = try CannedReply.parsePersonal(text, file: "replies.toml")
                return ""
            } catch {
                return String(describing: error)
            }
        }
        #expect(refusal("ok = \"x\"\nnumber = 3\n")
                == "replies replies.toml, line 2, number: the value must be a string, like number = \"Hello {{name}}\"")
        #expect(refusal("ok = \"x\"\n\n\"two words\" = \"y\"\n").hasPrefix("replies replies.toml, line 3: reply name \"two words\" must be"))
        #expect(refusal("ok = \"x\"\nbroken = \n").hasPrefix("replies replies.toml, line 2:"))
        #expect(refusal("empty = \"  \"\n") == "replies replies.toml, line 1, empty: the text is empty")
    }
}
