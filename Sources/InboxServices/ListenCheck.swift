import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Diagnosis {
    /// Whether the listener can bind `host:port`, and if something holds it, whether that
    /// is a running wabox (which `wabox` attaches to) or another program.
    public static func checkListenAddress(host: String, port: Int, client: DiagnosticClient,
                                          _ report: inout DoctorReport) async {
        let shown = "\(urlHost(host)):\(port)"
        if port == 0 {
            report.pass("listen", "\(shown): the listener takes any free port and prints it")
            return
        }
        switch PortProbe.bind(host: host, port: port) {
        case .free:
            report.pass("listen", "\(shown) is free for `wabox serve` or `wabox`")
        case .unresolvable(let reason):
            report.fail("listen", "\(shown): \(reason). Set WABOX_LISTEN or listen to an address of this machine, like 127.0.0.1:8080")
        case .failed(let code) where code == EACCES:
            report.fail("listen", "\(shown): ports below 1024 need root. Use a port like 8080 and put a reverse proxy (HTTPS on 443) in front")
        case .failed(let code) where code == EADDRNOTAVAIL:
            report.fail("listen", "\(shown): \(host) is not an address of this machine. Use 127.0.0.1 behind a reverse proxy, or 0.0.0.0 for every interface")
        case .failed(let code) where code != EADDRINUSE:
            report.fail("listen", "\(shown) cannot be bound: \(String(cString: strerror(code)))")
        case .failed:
            let health = await client.listenerHealth(at: "http://\(urlHost(connectableHost(host))):\(port)/healthz")
            switch health {
            case .wabox(let status, let queue):
                if status == "ok" {
                    report.pass("listen", "\(shown) is held by a running wabox listener (healthz ok, \(queue) webhooks queued): `wabox` attaches to it; a second `wabox serve` here would fail")
                } else {
                    report.warn("listen", "\(shown) is held by a running wabox listener that reports \(status) (its database is not readable): look at its log")
                }
            case .other(let what):
                report.fail("listen", "\(shown) is in use by another program (\(what)): stop it (`ss -ltnp 'sport = :\(port)'` names it), or set WABOX_LISTEN or listen to a free port")
            }
        }
    }
}
