import java.io.FileWriter;
import java.io.IOException;

// Compute OUT STEPS: a small iteration writing one line per step; the JVM
// maps its performance data file /tmp/hsperfdata_USER/PID meanwhile.
public class Compute {
    public static void main(String[] args) throws IOException, InterruptedException {
        int steps = Integer.parseInt(args[1]);
        double x = 1.0;
        try (FileWriter w = new FileWriter(args[0])) {
            for (int i = 0; i < steps; i++) {
                for (int j = 0; j < 100000; j++) {
                    x = x * 1.0000001 + Math.sin(j) * 1e-9;
                }
                w.write(i + " " + x + "\n");
                w.flush();
                Thread.sleep(20);
            }
        }
    }
}
