from doit_scout.dodo import *
