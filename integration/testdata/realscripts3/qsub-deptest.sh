#!/bin/bash
JID=`qsub -j oe -o /dev/null -M burlen.loring@gmail.com -m ae -l size=12,walltime=00:02:00 date.qsub`
JID=`qsub -j oe -o /dev/null -M burlen.loring@gmail.com -m ae -l size=12,walltime=00:02:00 -W depend=afterok:$JID date.qsub`
JID=`qsub -j oe -o /dev/null -M burlen.loring@gmail.com -m ae -l size=12,walltime=00:02:00 -W depend=afterok:$JID date.qsub`

# From burlen/H3D-IO runConfigKraken/qsub-deptest.sh (its banner left out); the test writes date.qsub.
