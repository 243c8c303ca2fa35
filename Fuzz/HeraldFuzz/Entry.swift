import Foundation
import HeraldFuzzDriver

/// The fuzz targets by name (`scripts/fuzz.sh NAME`); each checks properties of one parser on arbitrary bytes.
let fuzzTargets: [String: @Sendable (UnsafeRawBufferPointer) -> Void] = [
    "json": fuzzJSON,
    "socketio": fuzzSocketIOPacket,
    "engineio": fuzzEngineIO,
    "websocket": fuzzWebSocket,
    "upgrade": fuzzUpgradeFastPath,
    "resp": fuzzRESP,
    "publish": fuzzPublishRequest,
    "roomrule": fuzzRoomRule,
]

/// The target HERALD_FUZZ_TARGET names; resolved on first use, before libFuzzer's first input.
let selectedTarget: @Sendable (UnsafeRawBufferPointer) -> Void = {
    guard let name = ProcessInfo.processInfo.environment["HERALD_FUZZ_TARGET"], let target = fuzzTargets[name] else {
        let names = fuzzTargets.keys.sorted().joined(separator: ", ")
        FileHandle.standardError.write(Data("set HERALD_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// One binary for all targets (one sanitizer link instead of eight); HERALD_FUZZ_TARGET picks the target, every
/// argument goes to libFuzzer unchanged. SwiftPM makes this the program's main, so it starts libFuzzer itself.
@main
enum HeraldFuzz {
    static func main() {
        _ = selectedTarget
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) })
    }
}

/// A violated property: prints it and aborts, so libFuzzer reports a crash and saves the input.
func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    guard !condition() else { return }
    FileHandle.standardError.write(Data("fuzz property violated (\(file):\(line)): \(message())\n".utf8))
    abort()
}

/// Splits the input at `separator` bytes (how targets that need several inputs receive them).
func fuzzSplit(_ bytes: UnsafeRawBufferPointer, separator: UInt8 = 0) -> [UnsafeRawBufferPointer] {
    bytes.split(separator: separator, omittingEmptySubsequences: false).map { UnsafeRawBufferPointer(rebasing: $0) }
}

/// Chunk sizes 1…16 derived from a seed byte, cycled: the same bytes arrive split differently per seed.
func fuzzChunks(_ bytes: UnsafeRawBufferPointer, seed: UInt8) -> [UnsafeRawBufferPointer] {
    var chunks: [UnsafeRawBufferPointer] = []
    var start = 0
    var state = UInt32(seed) | 1
    while start < bytes.count {
        state = state &* 1_103_515_245 &+ 12_345
        let size = min(Int(state >> 16) % 16 + 1, bytes.count - start)
        chunks.append(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + size)]))
        start += size
    }
    return chunks
}
