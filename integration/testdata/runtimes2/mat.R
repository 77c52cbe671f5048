# mat.R OUT STEPS DELAY_MS: R under a checkpoint. Each step builds a
# 300x300 matrix from a seeded generator (R's Mersenne Twister state lives
# in the interpreter's heap), multiplies it (BLAS), solves a system (LAPACK),
# takes a QR decomposition, has two forked workers (parallel::mclapply)
# sum columns of the matrix they inherited, and keeps a list of results
# growing (R's garbage collector works throughout): a checkpoint meets
# workers starting, running and exiting. One line per step: the step and
# the figures rounded to 8 significant digits, the same on every run.
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
steps <- as.integer(args[2])
delay <- as.integer(args[3])
set.seed(20261203)
f <- file(out, "w")
kept <- list()
total <- 0
for (s in seq_len(steps) - 1L) {
  a <- matrix(rnorm(300 * 300), 300, 300) + diag(30, 300)
  b <- a %*% t(a)
  x <- solve(a, rowSums(b))
  q <- qr(a)
  kept[[length(kept) + 1]] <- sort(runif(2000))
  w <- parallel::mclapply(1:2, function(i) sum(sqrt(abs(b[, i * 100]))) + i, mc.cores = 2, mc.set.seed = FALSE)
  line <- sprintf("%d %.8g %.8g %.8g %d %.8g %.8g", s, sum(diag(b)), sum(x), abs(prod(sign(diag(qr.R(q))))) * sum(abs(diag(qr.R(q)))), length(kept), sum(sapply(kept, `[`, 1000)), sum(unlist(w)))
  total <- (total * 31 + sum(x)) %% 1e9
  writeLines(line, f)
  flush(f)
  if (delay > 0) Sys.sleep(delay / 1000)
}
writeLines(sprintf("done %.6f", total), f)
close(f)
