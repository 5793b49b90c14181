// CPU reference of the fused region-batch kernel. The caller and pool threads (thread_pool.h) take chunks of whole
// regions (of the N*K*S output rows) from a shared counter. Box faces: per region, the x and y taps are computed
// once; each source row the region needs is interpolated horizontally once into 3 float planes (a two-row cache,
// so upsampled regions reuse rows), and each output row is a vertical blend of two cached rows with the
// normalisation, written plane by plane. The two passes come in portable, AVX2 and AVX-512 versions chosen at run
// time (cpu_box_rows.h); on AVX-512 a face's source rows are split into uint8 planes once for all its regions
// (FaceCache) and large FP32 outputs are streamed in whole 64-byte lines (the row-to-row carry below). Affine faces
// take a per-pixel path. Every value is computed with the operations of region_batch_math.h in the same order, so
// the result is bit-identical to a plain per-pixel loop over those functions, whatever the number of threads and
// the code path.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "cpu_box_rows.h"
#include "cpu_vec.h"
#include "region_batch_impl.h"
#include "region_batch_math.h"
#include "thread_pool.h"

namespace ran_edge {
namespace {

constexpr int64_t kMinRowsPerChunk = 64;  // tiny regions are dealt several at a time
constexpr int64_t kMaxThreads = 256;
// Outputs of at least this size are written with non-temporal stores where supported: they do not fit the
// per-core caches anyway, and streaming them saves reading every output line into the cache first.
constexpr int64_t kStreamBytes = int64_t{4} << 20;

// Per-thread scratch, allocated before any thread starts (workers never allocate).
struct Scratch {
    std::vector<Tap> xtap, ytap;    // box faces: per output column / row of the current region (see prepare())
    std::vector<PermBlock> blocks;  // box faces, AVX-512: the x taps in blocks of 16 columns (build_blocks)
    int32_t nblocks = 0;
    int32_t phase = 0;
    std::vector<AffineParts> col;   // affine faces: per output column of the current region
    std::vector<float> src;         // one source row as floats (interleaved, or 3 planes of src_stride for AVX-512)
    int32_t src_stride;
    int32_t stride;                 // plane stride of the interpolated rows (plane_stride(S))
    std::vector<float> row_mem;     // two horizontally interpolated source rows, 3 planes of `stride` floats each,
    float* rows[2];                 // 64-byte aligned
    int32_t cached[2] = {-1, -1};   // source row held by rows[0] / rows[1]
    alignas(64) float carry[3 * kBlock];  // AVX-512 FP32: last block of a row per output plane (RowOut::carry)
    int64_t carry_region = -1;      // the row whose last columns are in carry (-1: none)
    int32_t carry_row = -1;
    int32_t xlo = 0, xhi = -1;      // source columns the current region reads

    Scratch(int32_t s, int32_t width)
        : xtap(s), ytap(s), blocks(static_cast<size_t>(plane_stride(s) / kBlock)), col(s),
          src_stride(width + kPlanePad), stride(plane_stride(s)) {
        src.assign(3 * static_cast<size_t>(src_stride) + 4, 0.0f);
        const size_t one = 3 * static_cast<size_t>(stride);
        row_mem.assign(2 * one + 16, 0.0f);
        const uintptr_t base = reinterpret_cast<uintptr_t>(row_mem.data());
        rows[0] = row_mem.data() + ((64 - base % 64) % 64) / sizeof(float);
        rows[1] = rows[0] + one;
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    Scratch(Scratch&& o) noexcept = default;  // rows[] stay valid: the vector's buffer moves with it
};

// AVX-512 box path: a face's source rows split into uint8 planes once, for all its regions (RowIn::u8). Kept per
// thread across calls (pool threads live on), grown on demand up to kFaceCacheBytes; bigger faces, or a failed
// allocation, take the per-region split instead (same results).
constexpr int64_t kFaceCacheBytes = int64_t{4} << 20;
struct FaceCache {
    std::vector<uint8_t> planes;  // per row of the face window: 3 planes of `stride` bytes
    std::vector<uint8_t> filled;  // per row of the face window: split already
};
thread_local FaceCache tl_face_cache;

// Pixels that the taps of sample points in [a, b] can touch on an axis of len pixels, with a margin, clipped.
void tap_window(double a, double b, int32_t len, int32_t* lo, int32_t* hi) {
    double l = floor(a - 0.5) - 1.0, h = floor(b - 0.5) + 2.0;
    const double last = static_cast<double>(len) - 1.0;
    l = l < 0.0 ? 0.0 : (l > last ? last : l);
    h = h < 0.0 ? 0.0 : (h > last ? last : h);
    *lo = static_cast<int32_t>(l);
    *hi = static_cast<int32_t>(h);
}

template <typename OutT>
class Worker {
public:
    Worker(const CpuRequest& rq, Scratch& scratch, const BoxRowFns<OutT>& fns)
        : rq_(rq), sc_(scratch), fns_(fns), s_(rq.spec.size) {
        const int64_t bytes = static_cast<int64_t>(rq.n) * rq.regions.k * 3 * s_ * s_ * static_cast<int64_t>(sizeof(OutT));
        stream_ = bytes >= kStreamBytes;
        const bool swap = rq.spec.frame_order != rq.spec.out_order;
        for (int c = 0; c < 3; ++c) src_c_[c] = swap ? 2 - c : c;  // output channel c reads source channel src_c_[c]
    }

    // Ends this thread's share of the call (stores a pending carry).
    void finish() { flush_carry(); }

    void run(int64_t row_begin, int64_t row_end) {
        int64_t region = -1;
        for (int64_t g = row_begin; g < row_end; ++g) {
            const int64_t r = g / s_;
            if (r != region) {
                region = r;
                prepare(r);
            }
            if (rq_.kind == RE_GEOMETRY_BOXES) {
                box_out_row(r, static_cast<int32_t>(g % s_));
            } else {
                affine_out_row(r, static_cast<int32_t>(g % s_));
            }
        }
    }

private:
    const double* region_box(int64_t r) const { return rq_.regions.box[r % rq_.regions.k]; }
    const double* face(int64_t r) const {
        const int64_t n = r / rq_.regions.k;
        return rq_.faces + (rq_.kind == RE_GEOMETRY_BOXES ? 4 : 6) * n;
    }
    OutT* out_row(int64_t r, int c, int32_t j) const {
        return static_cast<OutT*>(rq_.out) + ((r * 3 + c) * s_ + j) * static_cast<int64_t>(s_);
    }
    float value(float v, int c) const { return normalise(v, rq_.spec.scale, rq_.spec.mean[c], rq_.spec.std[c]); }

    // Stores the columns s - phase .. s - 1 of the row held in carry (a partial 64-byte line).
    void flush_carry() {
        if (sc_.carry_region < 0) return;
        for (int c = 0; c < 3; ++c) {
            OutT* o = out_row(sc_.carry_region, c, sc_.carry_row) + (s_ - sc_.phase);
            memcpy(o, sc_.carry + kBlock * c, sizeof(OutT) * static_cast<size_t>(sc_.phase));
        }
        sc_.carry_region = -1;
    }

    void prepare(int64_t r) {
        flush_carry();
        const double* reg = region_box(r);
        const double* f = face(r);
        sc_.cached[0] = sc_.cached[1] = -1;  // x taps change
        if (rq_.kind != RE_GEOMETRY_BOXES) {
            for (int32_t i = 0; i < s_; ++i) sc_.col[i] = affine_col(f, axis_sample(reg[0], reg[2], i, s_));
            return;
        }
        int32_t lo = rq_.width, hi = -1, first = -1, last = -1, ylo = rq_.height, yhi = -1;
        for (int32_t i = 0; i < s_; ++i) {
            const Tap tx = box_axis_tap(f[0], f[2], reg[0], reg[2], i, s_, rq_.width);
            sc_.xtap[i] = tx;
            const Tap ty = box_axis_tap(f[1], f[3], reg[1], reg[3], i, s_, rq_.height);
            sc_.ytap[i] = ty;
            if (ty.w0 != 0.0f || ty.w1 != 0.0f) {
                ylo = std::min(ylo, ty.i0);
                yhi = std::max(yhi, ty.i1);
            }
            if (tx.w0 != 0.0f || tx.w1 != 0.0f) {
                lo = std::min(lo, tx.i0);
                hi = std::max(hi, tx.i1);
                first = first < 0 ? i : first;
                last = i;
            }
        }
        sc_.xlo = hi < 0 ? 0 : lo;
        sc_.xhi = hi;
        use_face_ = false;
        if (fns_.split_u8 != nullptr && hi >= 0) {
            const int64_t n = r / rq_.regions.k;
            if (n != face_) open_face(n);
            use_face_ = face_ok_ && lo >= fx0_ && hi <= fx1_ && (yhi < 0 || (ylo >= fy0_ && yhi <= fy1_));
        }
        // From here on, x taps hold pixel offsets relative to xlo (times 3 for the pixel-vector pass). Columns outside the frame (zero weights; the
        // inside ones are contiguous) read their nearest inside column's pixels (any finite value does: 0 * v = 0),
        // which keeps every block of columns within a narrow span of source pixels.
        const Tap left = sc_.xtap[first < 0 ? 0 : first], right = sc_.xtap[last < 0 ? 0 : last];
        for (int32_t i = 0; i < s_; ++i) {
            Tap& t = sc_.xtap[i];
            const Tap& near = first < 0 ? t : (i < first ? left : (i > last ? right : t));
            const int32_t i0 = first < 0 ? 0 : near.i0 - sc_.xlo, i1 = first < 0 ? 0 : near.i1 - sc_.xlo;
            const int32_t scale = fns_.blocks ? 1 : 3;  // the pixel-vector pass takes float offsets (3 per pixel)
            t.i0 = scale * i0;
            t.i1 = scale * i1;
        }
        if (fns_.blocks) {
            // FP32 at AVX-512: line the 16-column blocks up with the 64-byte lines of the output rows (all rows of a
            // region share them when S * 4 is a multiple of 64, e.g. S = 224; otherwise row 0's are used).
            const uintptr_t addr = reinterpret_cast<uintptr_t>(out_row(r, 0, 0));
            sc_.phase = sizeof(OutT) == 4 && addr % 4 == 0 ? static_cast<int32_t>(addr % 64 / 4) : 0;
            sc_.nblocks = build_blocks(sc_.xtap.data(), s_, sc_.phase, sc_.blocks.data());
            carry_ = stream_ && sc_.phase > 0 && s_ % kBlock == 0 && sizeof(OutT) == 4;
        }
    }

    // The window of face n that the taps of all its regions can read, and its row cache (FaceCache).
    void open_face(int64_t n) {
        face_ = n;
        face_ok_ = false;
        const double* f = rq_.faces + 4 * n;
        double rx0 = 1.0, ry0 = 1.0, rx1 = 0.0, ry1 = 0.0;
        for (int32_t k = 0; k < rq_.regions.k; ++k) {
            const double* b = rq_.regions.box[k];
            rx0 = std::min(rx0, b[0]);
            ry0 = std::min(ry0, b[1]);
            rx1 = std::max(rx1, b[2]);
            ry1 = std::max(ry1, b[3]);
        }
        const double w = f[2] - f[0], h = f[3] - f[1];
        tap_window(f[0] + rx0 * w, f[0] + rx1 * w, rq_.width, &fx0_, &fx1_);
        tap_window(f[1] + ry0 * h, f[1] + ry1 * h, rq_.height, &fy0_, &fy1_);
        fstride_ = fx1_ - fx0_ + 1 + 3 * kBlock;  // blocks read up to 31 bytes past the last pixel
        const int64_t rows = static_cast<int64_t>(fy1_) - fy0_ + 1;
        const int64_t bytes = rows * 3 * fstride_;
        if (bytes > kFaceCacheBytes) return;
        try {
            if (static_cast<int64_t>(fc_.planes.size()) < bytes) fc_.planes.resize(static_cast<size_t>(bytes));
            fc_.filled.assign(static_cast<size_t>(rows), 0);
        } catch (const std::bad_alloc&) {
            return;
        }
        face_ok_ = true;
    }

    int32_t find(int32_t y) const { return sc_.cached[0] == y ? 0 : (sc_.cached[1] == y ? 1 : -1); }

    // Source row y, horizontally interpolated into the three planes of cache slot `slot` (plane l = channel l).
    void interpolate_row(int32_t slot, int32_t y) {
        const uint8_t* src = rq_.frame + static_cast<int64_t>(y) * rq_.pitch + static_cast<int64_t>(sc_.xlo) * 3;
        const int32_t npx = sc_.xhi - sc_.xlo + 1;
        const uint8_t* u8 = nullptr;
        bool fetch = y + 1 < rq_.height;
        if (use_face_) {  // rows of the face window are split once, for all its regions
            const int32_t ry = y - fy0_;
            uint8_t* q = fc_.planes.data() + static_cast<int64_t>(ry) * 3 * fstride_;
            if (!fc_.filled[static_cast<size_t>(ry)]) {
                const uint8_t* row = rq_.frame + static_cast<int64_t>(y) * rq_.pitch + static_cast<int64_t>(fx0_) * 3;
                fns_.split_u8(row, fx1_ - fx0_ + 1, q, q + fstride_, q + 2 * fstride_);
                fc_.filled[static_cast<size_t>(ry)] = 1;
            }
            u8 = q + (sc_.xlo - fx0_);
            fetch = fetch && y + 1 <= fy1_ && !fc_.filled[static_cast<size_t>(ry) + 1];
            if (fetch) src = rq_.frame + static_cast<int64_t>(y) * rq_.pitch + static_cast<int64_t>(fx0_) * 3;
        }
        if (fetch) {  // the next source row is usually needed next: start fetching it
            const int32_t bytes = 3 * (u8 != nullptr ? fx1_ - fx0_ + 1 : npx);
            for (int32_t x = 0; x < bytes; x += 64) __builtin_prefetch(src + rq_.pitch + x);
        }
        RowIn in;
        in.src = src;
        in.npx = npx;
        in.xtap = sc_.xtap.data();
        in.blocks = sc_.blocks.data();
        in.nblocks = sc_.nblocks;
        in.scratch = sc_.src.data();
        in.scratch_stride = sc_.src_stride;
        in.s = s_;
        in.h = sc_.rows[slot];
        in.stride = sc_.stride;
        in.u8 = u8;
        in.u8_stride = fstride_;
        fns_.horizontal(in);
        sc_.cached[slot] = y;
    }

    // Cache slots holding the horizontally interpolated source rows y0 and y1 (computed when missing).
    void source_rows(int32_t y0, int32_t y1, const float** h0, const float** h1) {
        int32_t s0 = find(y0);
        if (s0 < 0) {
            s0 = find(y1) == 0 ? 1 : 0;  // keep y1 if it is cached
            interpolate_row(s0, y0);
        }
        int32_t s1 = find(y1);
        if (s1 < 0) {
            s1 = 1 - s0;
            interpolate_row(s1, y1);
        }
        *h0 = sc_.rows[s0];
        *h1 = sc_.rows[s1];
    }

    void box_out_row(int64_t r, int32_t j) {
        const Tap ty = sc_.ytap[j];
        const bool carry_in = sc_.carry_region == r && sc_.carry_row == j - 1;
        if (!carry_in) flush_carry();
        if (ty.w0 == 0.0f && ty.w1 == 0.0f) {  // sample row outside the frame
            flush_carry();
            for (int c = 0; c < 3; ++c) fill_row(out_row(r, c, j), value(0.0f, c), s_);
            return;
        }
        RowOut<OutT> o;
        source_rows(ty.i0, ty.i1, &o.h0, &o.h1);
        const re_output_spec& p = rq_.spec;
        o.stride = sc_.stride;
        o.phase = sc_.phase;
        o.nblocks = sc_.nblocks;
        o.ty = ty;
        o.scale = p.scale;
        for (int c = 0; c < 3; ++c) {
            o.src_c[c] = src_c_[c];
            o.mean[c] = p.mean[c];
            o.std[c] = p.std[c];
            o.o[c] = out_row(r, c, j);
        }
        o.s = s_;
        o.stream = stream_;
        o.carry = sc_.carry;
        o.carry_in = carry_in;
        o.carry_out = carry_ && j + 1 < s_;
        fns_.vertical(o);
        sc_.carry_region = o.carry_out ? r : -1;
        sc_.carry_row = j;
    }

    void affine_out_row(int64_t r, int32_t j) {
        const double* reg = region_box(r);
        const AffineParts rp = ran_edge::affine_row(face(r), axis_sample(reg[1], reg[3], j, s_));
        OutT* o[3] = {out_row(r, 0, j), out_row(r, 1, j), out_row(r, 2, j)};
        for (int32_t i = 0; i < s_; ++i) {
            const Tap tx = make_tap(sc_.col[i].x + rp.x, rq_.width);
            const Tap ty = make_tap(sc_.col[i].y + rp.y, rq_.height);
            const uint8_t* row0 = rq_.frame + static_cast<int64_t>(ty.i0) * rq_.pitch;
            const uint8_t* row1 = rq_.frame + static_cast<int64_t>(ty.i1) * rq_.pitch;
            for (int c = 0; c < 3; ++c) {
                const float v = lerp_col(lerp_row(row0, tx, src_c_[c]), lerp_row(row1, tx, src_c_[c]), ty);
                store_value(o[c], i, value(v, c));
            }
        }
    }

    const CpuRequest& rq_;
    Scratch& sc_;
    const BoxRowFns<OutT> fns_;
    int32_t s_;
    bool stream_;
    bool carry_ = false;  // rows hand their last block to the next row (RowOut::carry_out)
    FaceCache& fc_ = tl_face_cache;
    int64_t face_ = -1;    // face whose window fc_ holds
    bool face_ok_ = false;  // fc_ is usable for it
    bool use_face_ = false;  // the current region reads its rows from fc_
    int32_t fx0_ = 0, fx1_ = -1, fy0_ = 0, fy1_ = -1, fstride_ = 0;
    int src_c_[3];
};

template <typename OutT>
Status run_typed(const CpuRequest& rq, int32_t num_threads) {
    const int64_t total_rows = static_cast<int64_t>(rq.n) * rq.regions.k * rq.spec.size;
    if (total_rows == 0) {
        return Status{};
    }
    // Work is dealt in chunks of whole regions from a shared counter to the caller and the pool threads that wake
    // up in time (thread_pool.h), so a thread the OS delays (other processes on the same cores) holds nothing back.
    int64_t chunk = rq.spec.size * ((kMinRowsPerChunk + rq.spec.size - 1) / rq.spec.size);
    int64_t threads = num_threads > 0 ? num_threads : std::max(1u, std::thread::hardware_concurrency());
    threads = std::max<int64_t>(1, std::min({threads, kMaxThreads, (total_rows + chunk - 1) / chunk}));
    // With at least two faces per thread, deal whole faces: each thread then splits a face's rows once for all its
    // regions (FaceCache) and reads them from its own cache.
    const int64_t face_rows = static_cast<int64_t>(rq.regions.k) * rq.spec.size;
    if (threads > 1 && rq.kind == RE_GEOMETRY_BOXES && rq.n >= 2 * threads && face_rows > chunk) chunk = face_rows;
    try {
        std::vector<Scratch> scratch;
        scratch.reserve(static_cast<size_t>(threads));
        for (int64_t t = 0; t < threads; ++t) scratch.emplace_back(rq.spec.size, rq.width);
        std::atomic<int64_t> next{0};
        const BoxRowFns<OutT> fns = box_row_fns(cpu_isa(), static_cast<OutT*>(nullptr));
        const std::function<void(int)> work = [&rq, &scratch, &next, &fns, chunk, total_rows](int t) {
            Worker<OutT> worker(rq, scratch[static_cast<size_t>(t)], fns);
            for (int64_t begin = next.fetch_add(chunk); begin < total_rows; begin = next.fetch_add(chunk)) {
                worker.run(begin, std::min(begin + chunk, total_rows));
            }
            worker.finish();
            store_fence();
        };
        try {
            ThreadPool::instance().run(static_cast<int>(threads - 1), work);
        } catch (const std::system_error& e) {
            return Status::error(RE_ERR_INTERNAL, std::string("could not start a worker thread: ") + e.what());
        }
        return Status{};
    } catch (const std::bad_alloc&) {
        return Status::error(RE_ERR_INTERNAL, "out of host memory for the per-thread scratch buffers");
    }
}

}  // namespace

Status run_cpu(const CpuRequest& request, int32_t num_threads) {
    if (request.spec.dtype == RE_DTYPE_FLOAT16) {
        return run_typed<uint16_t>(request, num_threads);
    }
    return run_typed<float>(request, num_threads);
}

}  // namespace ran_edge
