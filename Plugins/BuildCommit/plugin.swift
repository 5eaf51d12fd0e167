import Foundation
import PackagePlugin

/// Writes the commit the package is built from into the `BuildInfo` target before every
/// build (`git rev-parse --short HEAD`; "unknown" without git or outside a checkout), so
/// that `wabox --version` names it, for `swift build` and `scripts/package` alike.
@main
struct BuildCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("Generated")
        let script = context.package.directoryURL.appendingPathComponent("Plugins/BuildCommit/commit.sh")
        return [.prebuildCommand(displayName: "wabox: the commit this build is from", executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: [script.path, context.package.directoryURL.path, output.path],
                                 outputFilesDirectory: output)]
    }
}
