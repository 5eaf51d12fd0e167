import InboxCore
import Testing

@Suite struct FilterLanguageTests {
    private func parse(_ text: String) throws -> ConversationFilter { try ConversationFilter.parse(text) }

    private func problem(_ text: String) -> String? {
        do {
            _ = try ConversationFilter.parse(text)
            return nil
        } catch {
            return String(describing: error)
        }
    }

    @Test func termsAndFreeTextMix() throws {
        let filter = try parse("  amelie ~u  !~l vip ~a me laurent ~W ")
        #expect(filter.text == "amelie laurent")
        #expect(filter.terms == [
            .init(.unread), .init(.label("vip"), negated: true), .init(.claimedBy("me")), .init(.windowClosed),
        ])
        #expect(filter.summary == "unread · not labelled vip · claimed by me · window closed")
    }

    @Test func everyTermHasItsLetter() throws {
        #expect(try parse("~u ~w ~W ~F ~n ~a bob ~l x").terms.map(\.condition)
                == [.unread, .windowOpen, .windowClosed, .failedReply, .unclaimed, .claimedBy("bob"), .label("x")])
        #expect(try parse("!~n").terms == [.init(.unclaimed, negated: true)])
        #expect(try parse("+33 6 12").text == "+33 6 12")
        #expect(try parse("").isEmpty)
    }

    @Test func brokenTermsSayWhatIsWrong() {
        #expect(problem("~")?.hasPrefix("~ needs a letter: ~u unread") == true)
        #expect(problem("ana ~x")?.hasPrefix("~x is not a filter term; use ~u unread") == true)
        #expect(problem("~uw")?.hasPrefix("~uw is not a filter term") == true)
        #expect(problem("~a") == "~a needs an agent's name after it, like ~a me or ~a alice")
        #expect(problem("!~a ~u") == "!~a needs an agent's name after it, like ~a me or ~a alice")
        #expect(problem("~l") == "~l needs a label after it, like ~l vip")
        #expect(problem("!") == "! needs a ~ term right after it, like !~u or !~l vip")
        #expect(problem("!ana") == "!ana: ! negates a ~ term (like !~u); it cannot negate free text")
    }
}
