# a sample script: one processor on one node
#   
#   processors
#   
#PBS -l nodes=1:ppn=MYPPN
#
#   walltime
#
#PBS -l walltime=MYWALLTIME
#
#   memory per process
#
#PBS -l pmem=MYPMEM
#
#PBS -j oe
echo "Job started on `hostname` at `date`"
# Directives from JamesMcGaa/strategic-response-analysis-mitctl-fema
# pythonCode/RelatedToParallel/RunJarrod_Skeleton_001.sh (a template), unchanged.
