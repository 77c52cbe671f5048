#!/bin/bash
#PBS-l nodes=1
#PBS-l walltime=1000:00:00
#PBS -j oe

#7_31_17

# build the index the alignments need
set -e 

echo "START" $(date +%Y)

echo "index built"

echo "STOP" $(date +%Y) 
# Directives from erinwitkop/apoptosis_data_pipeline 06_C_gigas_RNA_pipeline_bowtie_build.sh
# ("#PBS-l": no blank after the prefix; adapted: its module lines, which
# stop it here under set -e, left out; bowtie2-build made an echo).
