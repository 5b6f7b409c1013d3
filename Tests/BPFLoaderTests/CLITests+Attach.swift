import Foundation
import Testing
@testable import BPFLoader

extension CLITests {
    /// `bpfpipe load --attach`: links pinned under DIR/links keep the programs running after the
    /// command exits; a failed attach leaves nothing pinned and nothing attached.
    @Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
    struct LoadAttach {
        func counter(_ mapPin: String, _ slot: UInt32) throws -> UInt64 {
            let map = try BPFFS.openPinned(mapPin)
            let key = withUnsafeBytes(of: slot.littleEndian) { Array($0) }
            let value = try #require(try BPFCommand.lookupElement(map: map, key: key, valueSize: 8).get())
            return value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }

        @Test func attachPinsLinksThatKeepCountingAfterTheCommandExits() throws {
            let path = try Fixtures.object("autoattach")
            let pins = try PinDirectory()
            let result = try runBPFPipe(["load", path, "--pin", pins.path, "--attach", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let links = try #require(json["links"] as? [[String: Any]])
            #expect(Set(links.compactMap { $0["path"] as? String }) == [pins.path + "/links/cnt_getpid", pins.path + "/links/cnt_switch"])
            #expect(Set(links.compactMap { $0["target"] as? String }) == ["tracepoint syscalls/sys_enter_getpid", "raw tracepoint sched_switch"])
            #expect(!pins.contents().contains("links/not_attached"))

            // The command has exited; only the pins hold the links.
            let link = try BPFLink.openPinned(pins.path + "/links/cnt_getpid")
            #expect(try link.info().type == LinkType.perfEvent)
            let before = try counter(pins.path + "/maps/counts", 0)
            for _ in 0..<10 { _ = getpid() }
            #expect(try counter(pins.path + "/maps/counts", 0) >= before + 10)

            let text = try runBPFPipe(["load", try Fixtures.object("autoattach"), "--pin", pins.path + "/again", "--attach"])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("attached program cnt_getpid to tracepoint syscalls/sys_enter_getpid (link id "))
            #expect(text.stdout.contains("at \(pins.path)/again/links/cnt_getpid\n"))
        }

        /// In a mount namespace of its own where tracefs is unmounted, `load --attach` mounts it
        /// to find the tracepoint's id; the pins land in the shared bpffs.
        @Test func attachMountsTracefsWhenItIsMissing() throws {
            let path = try Fixtures.object("autoattach")
            let pins = try PinDirectory()
            let script = """
                while mountpoint -q /sys/kernel/tracing; do umount /sys/kernel/tracing || exit 9; done
                ls /sys/kernel/tracing/events >/dev/null 2>&1 && exit 8
                "$0" load "$1" --pin "$2" --attach || exit $?
                mountpoint -q /sys/kernel/tracing || exit 7
                """
            let r = try runBounded("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c", script, bpfpipeExecutable, path, pins.path], seconds: 60)
            #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
            #expect(r.stdout.contains("attached program cnt_getpid to tracepoint syscalls/sys_enter_getpid"))
            let before = try counter(pins.path + "/maps/counts", 0)
            for _ in 0..<10 { _ = getpid() }
            #expect(try counter(pins.path + "/maps/counts", 0) >= before + 10)
        }

        @Test func failedAttachLeavesNothingPinnedOrAttached() throws {
            let path = try Fixtures.object("autoattach", flags: ["-DWITH_MISSING_TP"])
            let pins = try PinDirectory()
            let result = try runBPFPipe(["load", path, "--pin", pins.path, "--attach"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(path): attach: program 'rb_missing' instance 0: cannot attach to tracepoint syscalls/sys_enter_no_such_call: no tracepoint"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: pins.path))
            // A link that stayed would keep its program in the kernel after the command exited;
            // the kernel frees unused programs after a grace period, so this waits (boundedly).
            let gone = try eventually {
                let programs = try runBounded("/usr/sbin/bpftool", ["prog", "list"], seconds: 30).stdout
                return !programs.contains("rb_cnt_getpid") && !programs.contains("rb_cnt_switch")
            }
            #expect(gone, "a program of the failed load is still in the kernel")
        }
    }
}
