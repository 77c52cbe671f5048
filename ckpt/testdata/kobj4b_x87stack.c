/* kobj4b_x87stack: the x87 register stack full (eight values, tag word
 * all valid, TOP 0 after eight pushes) and the control word at 64-bit
 * precision rounding toward zero across the wait, in a raw pause loop:
 * the values pop back in order, exact to the last bit of the 80-bit
 * format, and the status and control words are as they were. */
#include "kobj.h"
#include <stdint.h>

static long double in[8], out[8];
static uint16_t cw = 0x0f7f, cwout, swin, swout;

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	for (int i = 0; i < 8; i++) in[i] = 1.0L / (3.0L + i) + (long double)i * 1e300L * 1e300L;
	sigset_t none;
	sigemptyset(&none);
	kobj_write(".ready", "");
	sigprocmask(SIG_SETMASK, &none, NULL);
	__asm__ volatile(
		"fninit\n"
		"fldcw %[cw]\n"
		"fldt 0(%[i])\n fldt 16(%[i])\n fldt 32(%[i])\n fldt 48(%[i])\n"
		"fldt 64(%[i])\n fldt 80(%[i])\n fldt 96(%[i])\n fldt 112(%[i])\n"
		"fnstsw %[swin]\n"
		"1: mov $34, %%eax\n"
		"syscall\n"
		"cmpl $0, %[go]\n"
		"je 1b\n"
		"fnstsw %[swout]\n"
		"fnstcw %[cwout]\n"
		"fstpt 112(%[o])\n fstpt 96(%[o])\n fstpt 80(%[o])\n fstpt 64(%[o])\n"
		"fstpt 48(%[o])\n fstpt 32(%[o])\n fstpt 16(%[o])\n fstpt 0(%[o])\n"
		"fninit\n"
		: [swin] "=m"(swin), [swout] "=m"(swout), [cwout] "=m"(cwout)
		: [i] "r"(in), [o] "r"(out), [cw] "m"(cw), [go] "m"(kobj_go)
		: "rax", "rcx", "r11", "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
	for (int i = 0; i < 8; i++)
		CHECK(memcmp(&out[i], &in[i], 10) == 0, "st value %d %La, want %La", i, out[i], in[i]);
	CHECK(cwout == cw, "control word %#x, want %#x", cwout, cw);
	CHECK(swout == swin, "status word %#x, want %#x", swout, swin);
	return kobj_done();
}
