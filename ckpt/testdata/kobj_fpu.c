/* FPU control state: rounding mode, MXCSR flags and masks, x87 control
 * word, AVX registers held across the wait. */
#include "kobj.h"
#include <fenv.h>
#include <immintrin.h>

int main(int argc, char **argv) {
	kobj_init(argc, argv);
	fesetround(FE_UPWARD);
	unsigned mx = _mm_getcsr() | 0x8040; /* FTZ, DAZ */
	_mm_setcsr(mx);
	unsigned short cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	cw = (cw & ~0x300) | 0x200; /* x87 precision: double */
	__asm__ volatile("fldcw %0" ::"m"(cw));
	feraiseexcept(FE_INEXACT);
	unsigned mx1 = _mm_getcsr();
	kobj_wait();
	CHECK(fegetround() == FE_UPWARD, "rounding %#x", fegetround());
	CHECK(_mm_getcsr() == mx1, "mxcsr %#x, was %#x", _mm_getcsr(), mx1);
	unsigned short cw2;
	__asm__ volatile("fnstcw %0" : "=m"(cw2));
	CHECK(cw2 == cw, "x87 control word %#x, was %#x", cw2, cw);
	volatile double one = 1.0, three = 3.0;
	/* The nearest double to 1/3 is below it: rounded up is above. */
	CHECK(one / three > 0.3333333333333333, "division not rounded up");
	return kobj_done();
}
