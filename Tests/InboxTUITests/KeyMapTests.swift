import Foundation
import InboxCore
import InboxStore
@testable import InboxTUI
import Testing

/// `keys.toml`: actions bound to other keys, and a broken file refused with its line and key.
@Suite struct KeyMapTests {
    private func parse(_ text: String) throws(KeyMap.LoadError) -> KeyMap {
        try KeyMap.parse(text, file: "/home/ana/.config/wabox/keys.toml")
    }

    private func refusal(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aBoundKeyActsAsTheDefaultAndTheDefaultNoLonger() throws {
        let keys = try parse("""
            # my keys
            reply = "e"
            react = ["=", "Ctrl-R"]
            buttons = "Ctrl-G"
            """)
        #expect(keys.translate(.character("e"), in: .thread) == .character("r"))
        #expect(keys.translate(.character("r"), in: .thread) == nil)
        #expect(keys.translate(.character("="), in: .thread) == .character("+"))
        #expect(keys.translate(.control("r"), in: .thread) == .character("+"))
        #expect(keys.translate(.character("+"), in: .thread) == nil)
        // Keys nobody bound are left alone; in the compose line letters stay letters.
        #expect(keys.translate(.character("j"), in: .thread) == .character("j"))
        #expect(keys.translate(.character("e"), in: .compose) == .character("e"))
        #expect(keys.translate(.control("g"), in: .compose) == .control("b"))
        #expect(keys.translate(.control("b"), in: .compose) == .control("b"))
        #expect(KeyMap.standard.translate(.character("r"), in: .thread) == .character("r"))
        // The help names the new keys.
        #expect(keys.helpLabel("+") == "= Ctrl-R")
        #expect(keys.helpLabel("j k  ↓ ↑") == "j k  ↓ ↑")
        #expect(keys.helpLabel("Ctrl-B") == "Ctrl-G")
    }

    @Test func twoActionsCanTradeKeys() throws {
        let keys = try parse("""
            down = ["k", "Down"]
            up = ["j", "Up"]
            """)
        #expect(keys.translate(.character("k"), in: .list) == .character("j"))
        #expect(keys.translate(.character("j"), in: .thread) == .character("k"))
        #expect(keys.helpLabel("j k  ↓ ↑") == "k ↓  j ↑")
    }

    @Test func theReducerSeesTheBoundKey() throws {
        var s = AppState(width: 100, height: 30, now: 1_000)
        s.keys = try parse(#"contact = "I""#)
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 3), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 3), waID: "15550003", name: "Ana"),
            lastActivityAt: 900, lastInboundAt: 900, unreadCount: 0, lastMessage: nil)
        _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
        #expect(reduce(&s, .key(.character("i"))) == [])
        #expect(reduce(&s, .key(.character("I"))) == [.workbench(.loadContact(conversation.id))])
    }

    @Test func aBrokenFileIsRefusedWithItsLineAndKey() {
        let file = "keys file /home/ana/.config/wabox/keys.toml"
        #expect(refusal("reply = \"e\"\nreplay = \"f\"")
                == "\(file), line 2: unknown action \"replay\"; known: \(KeyAction.allCases.map(\.rawValue).joined(separator: ", "))")
        #expect(refusal("\n\nreply = \"Ctl-E\"")?.hasPrefix("\(file), line 3, reply: \"Ctl-E\" is not a key; use a character") == true)
        #expect(refusal("reply = 5") == "\(file), line 1, reply: give a key in quotes, like reply = \"e\", or several: reply = [\"e\", \"Ctrl-E\"]")
        #expect(refusal("reply = \"j\"")
                == "\(file), line 1, reply = \"j\": j already does down in the thread; bind down to another key as well, or pick another key")
        #expect(refusal("quit = \"Ctrl-C\"") == "\(file), line 1, quit: Ctrl-C always quits wabox; bind another key")
        #expect(refusal("buttons = \"b\"")?.contains("keys of the compose line must be Ctrl- or special keys") == true)
        #expect(refusal("reply = [\"e\"")?.hasPrefix("\(file), line ") == true)
    }

    @Test func aMissingFileIsTheStandardKeys() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).toml").path
        #expect(try KeyMap.load(from: path) == .standard)
        #expect(KeyMap.key(named: "Shift-Tab") == .backTab)
        #expect(KeyMap.key(named: "ctrl-x") == .control("x"))
        #expect(KeyMap.key(named: "Ctrl-I") == nil, "Ctrl-I is Tab to a terminal")
        #expect(KeyMap.key(named: "Space") == .character(" "))
    }
}
