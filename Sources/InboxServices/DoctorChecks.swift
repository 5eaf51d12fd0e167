import CloudAPI
import Foundation
import InboxCore

#if canImport(Glibc)
import Glibc
#endif

// `wabox doctor`'s checks of the listen address and of the Graph API, on plain values.

extension Diagnosis {
    /// Whether `wabox serve` could listen at host:port, or which program holds it.
    public static func checkListenAddress(host: String, port: Int, client: DiagnosticClient,
                                          _ report: inout DoctorReport) async {
        let address = (host: host, port: port)
        let shown = "\(urlHost(address.host)):\(address.port)"
        if address.port == 0 {
            report.pass("listen", "\(shown): the listener takes any free port and prints it")
            return
        }
        switch PortProbe.bind(host: address.host, port: address.port) {
        case .free:
            report.pass("listen", "\(shown) is free for `wabox serve` or `wabox`")
        case .unresolvable(let reason):
            report.fail("listen", "\(shown): \(reason). Set WABOX_LISTEN or listen to an address of this machine, like 127.0.0.1:8080")
        case .failed(let code) where code == EACCES:
            report.fail("listen", "\(shown): ports below 1024 need root. Use a port like 8080 and put a reverse proxy (HTTPS on 443) in front")
        case .failed(let code) where code == EADDRNOTAVAIL:
            report.fail("listen", "\(shown): \(address.host) is not an address of this machine. Use 127.0.0.1 behind a reverse proxy, or 0.0.0.0 for every interface")
        case .failed(let code) where code != EADDRINUSE:
            report.fail("listen", "\(shown) cannot be bound: \(String(cString: strerror(code)))")
        case .failed:
            let host = urlHost(connectableHost(address.host))
            let health = await client.listenerHealth(at: "http://\(host):\(address.port)/healthz")
            switch health {
            case .wabox(let status, let queue):
                if status == "ok" {
                    report.pass("listen", "\(shown) is held by a running wabox listener (healthz ok, \(queue) webhooks queued): `wabox` attaches to it; a second `wabox serve` here would fail")
                } else {
                    report.warn("listen", "\(shown) is held by a running wabox listener that reports \(status) (its database is not readable): look at its log")
                }
            case .other(let what):
                report.fail("listen", "\(shown) is in use by another program (\(what)): stop it (`ss -ltnp 'sport = :\(address.port)'` names it), or set WABOX_LISTEN or listen to a free port")
            }
        }
    }

    /// Reads the phone number with the token: whether both work, and the number's quality.
    public static func checkGraphAPI(token: String?, phoneNumberID: String?, graphURL: String, graphVersion: String,
                                     graphURLIsSet: Bool, client: DiagnosticClient, _ report: inout DoctorReport) async {
        guard let token else {
            report.warn("Graph API", "not checked: no access token (see sending above)")
            return
        }
        guard let phoneNumberID, phoneNumberID.allSatisfy(\.isNumber) else {
            report.warn("Graph API", "not checked: no usable phone_number_id (see sending above)")
            return
        }
        let graph = GraphCloudClient.Configuration(graphURL: graphURL, graphVersion: graphVersion,
                                                   accessToken: token, timeout: .seconds(10))
        let base = graph.graphURL
        let url = "\(base)/\(graphVersion)/\(phoneNumberID)"
        let whereTo = graphURLIsSet ? "\(base) (WABOX_GRAPH_URL/graph_url)" : base
        let tokenShown = Redaction.shown(token)
        let number: PhoneNumberInfo
        do {
            number = try await client.phoneNumber(PhoneNumberID(phoneNumberID), graph: graph)
        } catch {
            switch error {
            case .api(let error):
                report.fail("Graph API", explain(error, token: tokenShown, phoneNumberID: phoneNumberID))
            case .http(let status, let snippet):
                report.fail("Graph API", "GET \(url) answered HTTP \(status) without a Graph API error (\(snippet)): check that \(whereTo) is the Graph API and graph_version \(graphVersion) exists")
            case .network(let failure):
                report.fail("Graph API", explain(failure, base: whereTo, url: url))
            case .invalidResponse, .tooLarge:
                report.fail("Graph API", "GET \(url) answered but not with a phone number: check that \(whereTo) is the Graph API")
            }
            return
        }
        guard number.verifiedName != nil || number.displayPhoneNumber != nil else {
            report.fail("Graph API", "GET \(url) answered but not with a phone number: check that \(whereTo) is the Graph API")
            return
        }
        let display = TerminalText.sanitize(number.displayPhoneNumber ?? "?")
        let name = TerminalText.sanitize(number.verifiedName ?? "no verified name")
        let quality = TerminalText.sanitize(number.qualityRating ?? "UNKNOWN")
        let summary = "\(whereTo) \(graphVersion): token \(tokenShown) valid; \(phoneNumberID) is \(display) “\(name)”, quality \(quality)"
        if ["YELLOW", "RED"].contains(quality.uppercased()) {
            report.warn("Graph API", "\(summary): customers have been blocking or reporting this number's messages; see WhatsApp Manager → Insights before sending more")
        } else {
            report.pass("Graph API", summary)
        }
    }
}
