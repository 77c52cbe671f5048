#
# batch options of a cluster (PBS)
#
#PBS -l nodes=1:ppn=2
#PBS -l walltime=1:00:00
#PBS -j eo -N nometcas
#
#  nodes, ppn, walltime, mem: what they ask for
#
echo "on $(hostname): $(wc -l < $PBS_NODEFILE) processes"
echo to-err >&2
# Directives from code-saturne/code_saturne bin/batch_clamart2.sh (adapted:
# nodes=4 made 1; the solver's run made two echoes).
