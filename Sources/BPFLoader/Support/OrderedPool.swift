#if canImport(Glibc)
import Glibc
#endif

/// Runs numbered pieces of work on a bounded set of plain threads and hands their results back to
/// the calling thread in index order, whatever order they finish in.
///
/// Used by parallel program loading: the kernel verifies privileged loads concurrently, so N
/// threads each blocked in `BPF_PROG_LOAD` use N cores. The caller's `consume` runs on the calling
/// thread only, in index order, while later work is still running: logs, observers and fault hooks
/// need no lock and see the same sequence as a one-thread run. Threads take work in index order,
/// so when work `k` fails every index below `k` has already started; the pool stops handing out
/// work, waits for what is running, and the caller sees the error of the lowest failed index (or
/// the first error `consume` threw). Results nobody consumed are dropped (an fd closes itself).
///
/// pthreads rather than Swift concurrency: the work is a blocking syscall, which must not occupy
/// the cooperative pool's few threads, and no Foundation is needed.
final class OrderedPool<Output>: @unchecked Sendable {
    /// Online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
    static var onlineCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    private let count: Int
    private let work: @Sendable (Int) -> Result<Output, any Error>
    private var results: [Result<Output, any Error>?]
    private var next = 0
    private var stopped = false
    /// The index the calling thread sleeps on, if it does: only that result wakes it (one futex
    /// wake per consumed result at most, not one per finished load).
    private var waitingFor: Int?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private init(count: Int, work: @escaping @Sendable (Int) -> Result<Output, any Error>) {
        self.count = count
        self.work = work
        results = Array(repeating: nil, count: count)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(finished, nil)
    }

    deinit {
        pthread_cond_destroy(finished)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        finished.deallocate()
    }

    /// Runs `work(0..<count)` on up to `jobs` threads and calls `consume(i, result)` for each
    /// index in order on the calling thread; `consume` throws to stop (a failed result usually
    /// should). Throws that error after every started piece of work has finished. With one job, or one piece
    /// of work, everything runs on the calling thread, one after another.
    static func run(count: Int, jobs: Int, work: @escaping @Sendable (Int) -> Result<Output, any Error>,
                    consume: (Int, Result<Output, any Error>) throws -> Void) throws {
        let threads = min(max(jobs, 1), count)
        if threads <= 1 {
            for i in 0..<count { try consume(i, work(i)) }
            return
        }
        let pool = OrderedPool(count: count, work: work)
        var ids: [pthread_t] = []
        for _ in 0..<threads {
            guard let id = Threads.spawn({ pool.runWorker() }) else { break }
            ids.append(id)
        }
        if ids.isEmpty {
            // Not even one thread: do the work here.
            for i in 0..<count { try consume(i, work(i)) }
            return
        }
        defer {
            pool.stop()
            for id in ids { pthread_join(id, nil) }
        }
        for i in 0..<count {
            let result = pool.wait(for: i)
            do {
                try consume(i, result)
            } catch {
                pool.stop()
                throw error
            }
        }
    }

    private func runWorker() {
        while true {
            pthread_mutex_lock(mutex)
            guard !stopped, next < count else {
                if stopped { pthread_cond_signal(finished) }  // a waiter may wait for work that never starts
                pthread_mutex_unlock(mutex)
                return
            }
            let i = next
            next += 1
            pthread_mutex_unlock(mutex)
            let r = work(i)
            pthread_mutex_lock(mutex)
            results[i] = r
            if case .failure = r { stopped = true }
            if waitingFor == i || stopped { pthread_cond_signal(finished) }
            pthread_mutex_unlock(mutex)
        }
    }

    /// Waits for index `i`'s result and takes it out of the pool. Index `i` has always been
    /// started: work is handed out in order and only stops after a failure at or below `i`, which
    /// the caller consumes (and stops at, as `run`'s callers do) before reaching `i`.
    private func wait(for i: Int) -> Result<Output, any Error> {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while results[i] == nil {
            // Never started (a failure below `i` stopped the pool, and the caller went on anyway).
            if stopped && i >= next { return .failure(LoaderError(.load, "not loaded: an earlier load failed")) }
            waitingFor = i
            pthread_cond_wait(finished, mutex)
            waitingFor = nil
        }
        let r = results[i]!
        results[i] = nil
        return r
    }

    private func stop() {
        pthread_mutex_lock(mutex)
        stopped = true
        // Unconsumed results (fds of loads after a failure) are released here, on this thread.
        results = Array(repeating: nil, count: count)
        pthread_mutex_unlock(mutex)
    }
}

/// Plain joinable threads.
enum Threads {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread; nil when the system refuses one.
    static func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var id = pthread_t()
        let started = pthread_create(&id, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        guard started == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            return nil
        }
        return id
    }
}
