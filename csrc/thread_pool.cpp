// Persistent thread pool of the CPU reference (see thread_pool.h).
#include "thread_pool.h"

namespace ran_edge {

ThreadPool& ThreadPool::instance() {
    // Deliberately never destroyed: no join at process exit (or in a forked child, where the threads do not exist).
    static ThreadPool* pool = new ThreadPool();
    return *pool;
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
}

void ThreadPool::grow(int threads) {
    while (static_cast<int>(threads_.size()) < threads) threads_.emplace_back(&ThreadPool::worker, this);
}

void ThreadPool::run(int helpers, const std::function<void(int)>& fn) {
    std::lock_guard<std::mutex> serial(run_mutex_);
    if (helpers > 0) {
        grow(helpers);
        std::lock_guard<std::mutex> lock(mutex_);
        job_ = &fn;
        ++generation_;
        open_slots_ = helpers;
        joined_ = 0;
        active_ = 0;
    }
    wake_.notify_all();
    fn(0);
    if (helpers > 0) {
        std::unique_lock<std::mutex> lock(mutex_);
        open_slots_ = 0;  // late helpers stay asleep
        done_.wait(lock, [this] { return active_ == 0; });
        job_ = nullptr;
    }
}

void ThreadPool::worker() {
    unsigned long seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stop_ || (open_slots_ > 0 && generation_ != seen); });
        if (stop_) return;
        seen = generation_;
        --open_slots_;
        const int index = ++joined_;
        ++active_;
        const std::function<void(int)>* job = job_;
        lock.unlock();
        (*job)(index);
        lock.lock();
        if (--active_ == 0) done_.notify_all();
    }
}

}  // namespace ran_edge
