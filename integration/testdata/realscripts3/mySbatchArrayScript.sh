#!/usr/bin/bash
#SBATCH --job-name=test_array
#SBATCH --time=00:30:00
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH -o test_array_log.%a.o
#SBATCH --array 1-10%5


echo "job array id" $SLURM_ARRAY_TASK_ID

# line X of the list
ReadFileName=`sed -n ${SLURM_ARRAY_TASK_ID}p readFiles.txt`

# the mapping would go here
echo $ReadFileName
# Directives from charlotte-ngs/sib_intro_rna_seq practicals/day1/sbatch/mySbatchArrayScript.sh
# (the test writes readFiles.txt).
