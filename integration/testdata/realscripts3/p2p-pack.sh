#PBS -l select=1:ncpus=2:mem=12MB -l place=pack
#PBS -l walltime=0:10:00
#PBS -q short_cpuQ
#PBS -o p2p-pack.csv
#PBS -e p2p-pack.err

module load mpich-3.2
echo "np=$(wc -l < $PBS_NODEFILE) ncpus=$NCPUS"
# Directives from silvanusbordignon/hpc4ds p2p/p2p-scatterexcl.sh (adapted:
# mem=12GB made 12MB, place=scatter:excl made pack, as its sibling scripts
# ask; mpirun made an echo).
