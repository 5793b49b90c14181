// A small persistent thread pool for the CPU reference.
//
// run(helpers, fn) calls fn(0) on the calling thread and fn(1..) on up to `helpers` pool threads that wake up in
// time. It returns when the caller is done and every helper that joined in is done; a helper the OS schedules
// late finds the job closed and does nothing, so a busy machine (other processes on the same cores) never makes
// a call wait for a thread that has not started. The work itself must be shared dynamically (e.g. an atomic
// chunk counter), since any number of helpers, including none, may join.
#ifndef RAN_EDGE_THREAD_POOL_H
#define RAN_EDGE_THREAD_POOL_H

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ran_edge {

class ThreadPool {
public:
    // The process-wide pool (threads are started on first use and grown on demand).
    static ThreadPool& instance();

    ThreadPool() = default;
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    ~ThreadPool();

    // Runs fn as described above. Calls are serialised. Throws std::system_error if a thread cannot be started.
    void run(int helpers, const std::function<void(int)>& fn);

private:
    void worker();
    void grow(int threads);

    std::mutex run_mutex_;  // one job at a time
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> threads_;
    const std::function<void(int)>* job_ = nullptr;
    unsigned long generation_ = 0;
    int open_slots_ = 0;  // helpers that may still join the current job
    int joined_ = 0;      // helpers that joined the current job
    int active_ = 0;      // helpers still running it
    bool stop_ = false;
};

}  // namespace ran_edge

#endif  // RAN_EDGE_THREAD_POOL_H
