#!/bin/sh
# From wschreyer/UCNmoderator qsub.sh. Adapted: -a 1-500 made -a 1-3.

if [ $# -gt 0 ]
then
  JOBID=$(sbatch -D . -d afterok:$1 prerun.sh | cut -f 4 -d " ")
else
  JOBID=$(sbatch -D . prerun.sh | cut -f 4 -d " ")
fi
echo $JOBID

JOBID=$(sbatch -D . -d afterok:$JOBID -a 1-3 run.sh | cut -f 4 -d " ")
echo $JOBID

sbatch -D . -d afterok:$JOBID postrun.sh

