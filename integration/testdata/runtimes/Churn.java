import java.io.FileWriter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

// Churn OUT STEPS THREADS DELAY_MS: a JVM under load for a checkpoint. Each
// step, THREADS pool threads each fill a map of boxed values and a list of
// arrays (garbage for the collector: G1 or Parallel, chosen on the command
// line), keep a slice of it alive in a ring of retained blocks (tens of
// MiB of old generation), and return a checksum; the hot loops are JIT
// compiled after the first steps. One line per step: the step and the
// checksums combined in thread order, so a run is deterministic.
public class Churn {
    static final int RING = 64;
    static final long[][] retained = new long[RING][];

    static long work(int step, int id) {
        HashMap<Integer, Long> m = new HashMap<>();
        List<long[]> l = new ArrayList<>();
        long h = step * 1000003L + id;
        for (int i = 0; i < 20000; i++) {
            h = h * 6364136223846793005L + 1442695040888963407L;
            m.put(i, h ^ (h >>> 29));
            if (i % 64 == 0) {
                long[] a = new long[512];
                for (int k = 0; k < a.length; k++) a[k] = h + k;
                l.add(a);
            }
        }
        long s = 0;
        for (int i = 0; i < 20000; i++) s += m.get(i) * (i | 1);
        for (long[] a : l) s ^= a[a.length - 1] + a[0];
        long[] keep = new long[64 * 1024]; // 512 KiB kept for RING steps
        for (int k = 0; k < keep.length; k++) keep[k] = s + k;
        synchronized (retained) {
            retained[(step * 8 + id) % RING] = keep;
        }
        return s;
    }

    public static void main(String[] args) throws Exception {
        String out = args[0];
        int steps = Integer.parseInt(args[1]);
        int nthreads = Integer.parseInt(args[2]);
        int delay = Integer.parseInt(args[3]);
        ExecutorService pool = Executors.newFixedThreadPool(nthreads);
        long total = 0;
        try (FileWriter w = new FileWriter(out)) {
            for (int step = 0; step < steps; step++) {
                final int st = step;
                List<Future<Long>> fs = new ArrayList<>();
                for (int id = 0; id < nthreads; id++) {
                    final int me = id;
                    fs.add(pool.submit(() -> work(st, me)));
                }
                long c = 0;
                for (Future<Long> f : fs) c = c * 31 + f.get();
                long r = 0;
                synchronized (retained) {
                    for (long[] a : retained) if (a != null) r += a[a.length / 2];
                }
                total = total * 1099511628211L ^ c ^ r;
                w.write(step + " " + Long.toHexString(c) + " " + Long.toHexString(total) + "\n");
                w.flush();
                if (delay > 0) Thread.sleep(delay);
            }
            w.write("done " + Long.toHexString(total) + "\n");
        }
        pool.shutdown();
    }
}
