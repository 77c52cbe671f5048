/*
 * faultbench: what filling fresh anonymous memory costs on this machine,
 * by way of filling it (issue 13, the 4 GiB restore). A measuring tool
 * run by hand, not by a test:
 *
 *   gcc -O2 -o faultbench faultbench.c
 *   faultbench MODE MIB [FILE CHUNK_MIB]
 *
 * MODE holds any of: huge (MADV_HUGEPAGE first), touch (one store per
 * 4 KiB), populate (MADV_POPULATE_WRITE), read (pread FILE into it by
 * CHUNK_MIB pieces, the restore's own way), collapse (MADV_COLLAPSE after).
 * Prints the seconds of each step and the AnonHugePages of the process.
 *
 * Measured 2026-12-02 on the 2-core VM (other helpers running), FILE of
 * 4 GiB in the page cache, CHUNK 8 MiB unless said:
 *   1 GiB: touch 0.43-0.47 s, populate 0.41-0.44 s; huge+touch or
 *     huge+populate 2.1-2.7 s on a first run, 0.055-0.066 s on the next;
 *   4 GiB: touch 6.9 s, populate 3.4 s, huge+touch 7.8 s;
 *     read alone 4.2, 4.6, 5.5, 5.4 s (64 MiB pieces: 2.8 s);
 *     populate+read 3.8, 8.6, 6.3, 6.0 s (64 MiB: 3.2 s);
 *     huge+populate+read 13.6, 24.5, 27.5 s; read+collapse 29.6 s.
 * The guest reports free 2 MiB blocks to the host (virtio_balloon free
 * page reporting, page_reporting_order 9): memory freed by the last job is
 * taken back by the host, and the first store to it waits for the host to
 * back it again, 4 KiB or huge page alike. That, not the guest's own page
 * faults, is the cost that moves from 0.06 to 2.7 s per GiB: populating
 * first or asking for huge pages does not remove it, and huge pages made
 * it worse at 4 GiB (compaction on top). Only warm memory is fast.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  size_t sz=(size_t)atol(argv[2])<<20; const char*mode=argv[1];
  char*p=mmap(0,sz+(2<<20),PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  p=(char*)(((unsigned long)p+(2<<20)-1)&~((2UL<<20)-1));
  double t0=now(); int huge=strstr(mode,"huge")!=0;
  if(huge) madvise(p,sz,MADV_HUGEPAGE);
  if(strstr(mode,"touch")) for(size_t i=0;i<sz;i+=4096)p[i]=1;
  if(strstr(mode,"populate")) if(madvise(p,sz,MADV_POPULATE_WRITE))perror("populate");
  double t1=now();
  if(strstr(mode,"read")){int fd=open(argv[3],O_RDONLY);size_t chunk=(size_t)atol(argv[4])<<20;
    for(size_t o=0;o<sz;o+=chunk){ssize_t n=pread(fd,p+o,chunk,o);if(n<=0){perror("pread");break;}} close(fd);}
  double t2=now();
  if(strstr(mode,"collapse")) if(madvise(p,sz,MADV_COLLAPSE))perror("collapse");
  double t3=now();
  char b[256];snprintf(b,256,"grep -E 'AnonHugePages' /proc/%d/smaps_rollup",getpid());
  printf("%s %zuMiB prep=%.3f read=%.3f collapse=%.3f total=%.3f\n",mode,sz>>20,t1-t0,t2-t1,t3-t2,t3-t0);fflush(stdout);system(b);
}
