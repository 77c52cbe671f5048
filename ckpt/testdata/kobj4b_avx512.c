/* kobj4b_avx512: all 32 ZMM registers and the 8 opmask registers hold
 * distinct patterns across the wait (a raw pause loop in assembly: no
 * libc code runs between the loads and the stores); each comes back
 * bit for bit, the upper 256 bits of every register and zmm16-31 too. */
#include "kobj.h"
#include <stdint.h>
#include <sys/syscall.h>

static uint64_t in[32][8] __attribute__((aligned(64)));
static uint64_t out[32][8] __attribute__((aligned(64)));
static uint64_t kin[8], kout[8];

#define LD(n) "vmovdqu64 " #n "*64(%[i]), %%zmm" #n "\n"
#define ST(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[o])\n"
#define KL(n) "kmovq " #n "*8(%[ki]), %%k" #n "\n"
#define KS(n) "kmovq %%k" #n ", " #n "*8(%[ko])\n"

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	for (int r = 0; r < 32; r++)
		for (int w = 0; w < 8; w++) in[r][w] = 0x0101010101010101ULL * (r + 1) ^ ((uint64_t)w << 56) ^ ((uint64_t)r << 8 | w);
	for (int k = 0; k < 8; k++) kin[k] = 0xf00d000000000000ULL | (uint64_t)k * 0x1111;
	kin[0] = 0x8000000000000001ULL;
	sigset_t none;
	sigemptyset(&none);
	kobj_write(".ready", "");
	sigprocmask(SIG_SETMASK, &none, NULL);
	__asm__ volatile(
		LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7) LD(8) LD(9) LD(10) LD(11) LD(12) LD(13) LD(14) LD(15)
		LD(16) LD(17) LD(18) LD(19) LD(20) LD(21) LD(22) LD(23) LD(24) LD(25) LD(26) LD(27) LD(28) LD(29) LD(30) LD(31)
		KL(0) KL(1) KL(2) KL(3) KL(4) KL(5) KL(6) KL(7)
		"1: mov $34, %%eax\n" /* pause */
		"syscall\n"
		"cmpl $0, %[go]\n"
		"je 1b\n"
		ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11) ST(12) ST(13) ST(14) ST(15)
		ST(16) ST(17) ST(18) ST(19) ST(20) ST(21) ST(22) ST(23) ST(24) ST(25) ST(26) ST(27) ST(28) ST(29) ST(30) ST(31)
		KS(0) KS(1) KS(2) KS(3) KS(4) KS(5) KS(6) KS(7)
		:
		: [i] "r"(in), [o] "r"(out), [ki] "r"(kin), [ko] "r"(kout), [go] "m"(kobj_go)
		: "rax", "rcx", "r11", "memory", "cc",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
		  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
		  "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	for (int r = 0; r < 32; r++)
		for (int w = 0; w < 8; w++)
			CHECK(out[r][w] == in[r][w], "zmm%d word %d %#lx, want %#lx", r, w, (unsigned long)out[r][w], (unsigned long)in[r][w]);
	for (int k = 0; k < 8; k++) CHECK(kout[k] == kin[k], "k%d %#lx, want %#lx", k, (unsigned long)kout[k], (unsigned long)kin[k]);
	return kobj_done();
}
