import CloudAPI
import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTesting
import Testing

/// doctor's account line, and `wabox templates`' listing, on real databases.
@Suite struct AccountAndTemplateServicesTests {
    @Test func doctorNamesEachAlertAndFailsWhenNothingCanSend() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let lines = DiagnosisTests.Lines()
        var quiet = DoctorReport(emit: lines.add)
        Diagnosis.checkAccount(databasePath: temp.path, &quiet)
        #expect(quiet.failures == 0)
        #expect(lines.all.first?.hasPrefix("✓ account") == true, "\(lines.all)")

        _ = try await temp.database.ingest(Fixtures.webhook("account_updates"))
        let alerted = DiagnosisTests.Lines()
        var report = DoctorReport(emit: alerted.add)
        Diagnosis.checkAccount(databasePath: temp.path, now: 1_764_406_000, &report)
        #expect(report.failures == 1)
        #expect(report.warnings == 2)
        let all = alerted.all.joined(separator: "\n")
        #expect(all.contains("! account     Meta restricted the account until 2025-12-02 08:30 UTC: templates"), "\(all)")
        #expect(all.contains("✗ account     Meta disabled the account: nothing will send"), "\(all)")
        // The violation's type came with an escape sequence: shown, never passed on.
        #expect(all.contains("policy violation (SCAM␛]0;owned␇)"), "\(all)")
        #expect(!all.contains("\u{1b}"))
        // Nothing for a database that is not there.
        let none = DiagnosisTests.Lines()
        var missing = DoctorReport(emit: none.add)
        Diagnosis.checkAccount(databasePath: temp.directory.appendingPathComponent("nope.sqlite").path, &missing)
        #expect(none.all.isEmpty)
    }

    @Test func theTemplateListingShowsStatusCategoryQualityAndRefresh() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let cache = [MessageTemplate(id: "1", name: "order_update", language: "fr", status: "APPROVED", category: "UTILITY",
                                     components: [.init(type: "BODY", text: "Bonjour {{1}}")])]
        try await temp.database.cacheTemplates(String(decoding: try JSONEncoder().encode(cache), as: UTF8.self), at: 1_764_405_000)
        _ = try await temp.database.ingest(Fixtures.webhook("template_updates"))
        let jsonl = try TemplateListing.lines(databasePath: temp.path, format: .jsonl)
        let rows = try jsonl.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        // welcome's updates name no status (a category, new text): nothing to list for it.
        #expect(rows.map { $0["name"] as? String } == ["order_update", "spring_sale"])
        #expect(rows[0]["quality"] as? String == "YELLOW")
        #expect(rows[0]["refreshed_at"] as? Int == 1_764_405_000)
        #expect(rows[0]["offered"] as? Bool == true)
        #expect(rows[1]["status"] as? String == "REJECTED")
        #expect(rows[1]["reason"] as? String == "INVALID_FORMAT")
        #expect(rows[1]["category"] as? String == "MARKETING")
        #expect(rows[1]["refreshed_at"] is NSNull)
        #expect(rows[1]["offered"] as? Bool == false)
        #expect(jsonl[0].hasPrefix(#"{"category":"UTILITY","id":"1","language":"fr","name":"order_update""#))

        let text = try TemplateListing.lines(databasePath: temp.path, format: .text, now: 1_764_405_600)
        #expect(text[0].hasPrefix("refreshed 2025-11-29 08:30 UTC (10 min ago)"), "\(text)")
        #expect(text[1].hasPrefix("NAME"))
        #expect(text.contains { $0.hasPrefix("spring_sale") && $0.contains("REJECTED") && $0.contains("INVALID_FORMAT") })
        #expect(throws: TemplateListing.Failure.self) {
            try TemplateListing.lines(databasePath: temp.directory.appendingPathComponent("nope.sqlite").path, format: .text)
        }
    }
}
